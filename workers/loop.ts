// A periodic task that never overlaps itself, logs its failures, and can be stopped
// after its current run finishes.
export interface Loop {
  stop(): Promise<void>;
}

export function every(
  name: string,
  intervalMs: number,
  log: { warn(obj: object, msg: string): void },
  task: () => Promise<unknown>,
): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = task()
      .then(() => undefined)
      .catch((err: unknown) => log.warn({ loop: name, err: err instanceof Error ? err.message : String(err) }, 'loop run failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

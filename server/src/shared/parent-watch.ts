// With CHORUS_EXIT_WITH_PARENT=1, a process stops itself (SIGTERM to itself, so it shuts down
// as it would when told to) as soon as the process that started it is gone. The test suite and
// `npm start` set it: a platform left behind by a killed test run or a killed terminal would
// otherwise keep taking jobs from the queues of whatever runs next on the same database.
// Services run by systemd or another supervisor leave it unset.
export function exitWithParent(env: NodeJS.ProcessEnv = process.env, everyMs = 500): void {
  if (env.CHORUS_EXIT_WITH_PARENT !== '1') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    // when the parent dies, the process is re-parented (to init or a subreaper)
    if (process.ppid !== parent) {
      clearInterval(timer);
      process.kill(process.pid, 'SIGTERM');
    }
  }, everyMs);
  timer.unref();
}

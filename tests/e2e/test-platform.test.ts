// The tests' own platform (tests/support/platform.ts) must not hand a test a platform that lacks
// a process. A CI run once lost four member-page tests, each waiting 60 s for an email no workers
// process was there to send: the workers had ended at start (a port found free was taken before
// they bound it) while the server and the mailbox answered. A process that ends during the start
// now fails the start at once, with that process's own words.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startPlatform } from '../support/platform.ts';

let held: Server;
let heldPort = 0;

beforeAll(async () => {
  heldPort = await freePort();
  held = createServer();
  await new Promise<void>((resolve) => held.listen(heldPort, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => held.close(resolve));
});

describe('the test platform', () => {
  it('fails its start, naming the cause, when the workers end before they are ready', async () => {
    const started = Date.now();
    const err = await startPlatform({ WORKERS_METRICS_PORT: String(heldPort) }).then(
      async (p) => {
        await p.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err, 'a platform without its workers was handed to the test').toBeInstanceOf(Error);
    const message = String((err as Error).message);
    expect(message).toContain('workers exited while the platform was starting');
    expect(message).toContain(`WORKERS_METRICS_PORT ${heldPort} is taken`);
    // three tries (a taken port is retried), each ended by the workers' exit, not by a 60 s wait
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});

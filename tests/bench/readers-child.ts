// The readers of the read storm, in a process of their own. A load generator is one event
// loop: readers hammering the server from the same process as the signers would delay the
// signers' own requests and answers inside the generator, and the bench would measure itself.
// Asked 'storm' over IPC, it runs the count and page readers together (settings from
// STORM_* variables) and answers both results.
import type { Platform } from '../support/platform.ts';
import { countReaders, pageReaders } from './scenarios.ts';

const platform = { baseUrl: process.env.STORM_URL!, pid: () => Number(process.env.STORM_SERVER_PID) || undefined } as unknown as Platform;
const action = { id: '', slug: process.env.STORM_SLUG! };
const readers = Number(process.env.STORM_READERS);
const seconds = Number(process.env.STORM_SECONDS);
process.send?.({ type: 'ready', port: 0 });

process.on('message', async (m: { type: string }) => {
  if (m.type !== 'storm') return;
  const [count, page] = await Promise.all([
    countReaders(platform, action, Math.ceil(readers / 2), seconds, 'read storm: count readers'),
    pageReaders(platform, action, Math.floor(readers / 2), seconds, 'read storm: page readers'),
  ]);
  process.send?.({ type: 'storm', count, page });
});
process.on('disconnect', () => process.exit(0));

// Builds the platform's three processes into one JavaScript file each, so that they run on
// plain Node rather than through tsx:
//   server   server/src/http/server.ts         -> server/build/http/server.mjs
//   workers  workers/main.ts                   -> server/build/workers/main.mjs
//   mailbox  server/src/mailbox/mailbox.main.ts -> server/build/mailbox/main.mjs
// Measured on the bench machine: the server at rest is about 200 MB resident under
// `node --import tsx` and about 115 MB from its build; the workers save about as much. tsx's
// module hooks run on a thread of their own with a second V8 heap for as long as the process
// lives, every module is transpiled when it loads (a few seconds of CPU at each start, which
// the test suite paid on every platform it started), and the source maps of everything loaded
// are parsed and kept.
//
// The packages stay outside the bundles (they are loaded from node_modules as usual); only our
// own TypeScript is bundled. Each file sits two folders below the repository root, the same
// depth as server/src/<folder>/, because server.ts and mail/render.ts find the SvelteKit build
// and the email templates relative to their own file (import.meta.url).
//
// Used by `npm start` (server/bin/chorus.mjs), `npm test` (before the suite starts) and the test
// and bench platform (tests/support/platform.ts). Rebuilt only when a file under server/src or
// workers/ (or this one) is newer than the builds.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = join(ROOT, 'server', 'build');

/** Each process: its entry point and its build. */
export const PROCESSES = {
  server: { entry: join(ROOT, 'server', 'src', 'http', 'server.ts'), build: join(BUILD, 'http', 'server.mjs') },
  workers: { entry: join(ROOT, 'workers', 'main.ts'), build: join(BUILD, 'workers', 'main.mjs') },
  mailbox: { entry: join(ROOT, 'server', 'src', 'mailbox', 'mailbox.main.ts'), build: join(BUILD, 'mailbox', 'main.mjs') },
};
export const SERVER_BUILD = PROCESSES.server.build;

/**
 * V8 flags of the server process. --heap-growing-percent=50: after each full collection the
 * heap may grow to 1.5 x what was live, instead of V8's own factor (up to 4 x). The server's
 * live heap is small (about 40 MB, under overload too: a heap snapshot taken mid-overload
 * holds no more than one at rest), but it makes garbage fast, so V8's default let the heap
 * reach 200+ MB between collections. Measured with the bench's signing and overload scenarios
 * (same machine, runs alternated): peak resident 163-172 MB with the flag against 224-255 MB
 * without, at no higher server CPU per answer. No --max-old-space-size: a cap would turn a
 * burst of memory into a crash.
 */
export const SERVER_NODE_FLAGS = ['--heap-growing-percent=50'];

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function upToDate() {
  const sources = Math.max(
    newestMtime(join(ROOT, 'server', 'src')),
    newestMtime(join(ROOT, 'workers')),
    statSync(fileURLToPath(import.meta.url)).mtimeMs,
  );
  return Object.values(PROCESSES).every((p) => existsSync(p.build) && statSync(p.build).mtimeMs >= sources);
}

/**
 * Builds the three processes if their sources changed since the last build; answers the path
 * of each build.
 */
export async function buildProcesses() {
  const paths = Object.fromEntries(Object.entries(PROCESSES).map(([name, p]) => [name, p.build]));
  if (upToDate()) return paths;
  // esbuild comes with tsx (a dependency of the platform), so it is installed wherever tsx is
  const esbuild = await import('esbuild');
  const results = await Promise.all(
    Object.values(PROCESSES).map((p) =>
      esbuild.build({
        entryPoints: [p.entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        write: false,
        outfile: p.build,
        logLevel: 'warning',
        banner: { js: '// Built by server/bin/build-processes.mjs: do not edit.' },
      }),
    ),
  );
  Object.values(PROCESSES).forEach((p, i) => {
    mkdirSync(dirname(p.build), { recursive: true });
    // several test files may start platforms at once: each writes its own file and renames it
    // into place, so a process never starts from a half-written build
    const tmp = `${p.build}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, results[i].outputFiles[0].contents);
    renameSync(tmp, p.build);
  });
  return paths;
}

/** The server's build (see buildProcesses). */
export async function buildServer() {
  return (await buildProcesses()).server;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildProcesses().then((p) => console.log(Object.values(p).join('\n')));
}

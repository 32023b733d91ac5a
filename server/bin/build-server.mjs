// Builds the server process (server/src/http/server.ts) into one JavaScript file, so that it
// runs on plain Node rather than through tsx. Measured on the bench machine: the same server
// at rest is about 200 MB resident under `node --import tsx` and about 115 MB from this build.
// tsx's module hooks run on a thread of their own with a second V8 heap for as long as the
// process lives, every module is transpiled when it loads, and the source maps of everything
// loaded (node_modules and the SvelteKit build included) are parsed and kept.
//
// The packages stay outside the bundle (they are loaded from node_modules as usual); only our
// own TypeScript is bundled. The file is written at server/build/http/server.mjs, the same
// depth as server/src/http/, because server.ts and mail/render.ts find the SvelteKit build and
// the email templates relative to their own file (import.meta.url) and both sit one folder
// below server/src.
//
// Used by `npm start` (server/bin/chorus.mjs) and by the test and bench platform
// (tests/support/platform.ts). Rebuilt only when a file under server/src (or this one) is newer than the build.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVER_BUILD = join(ROOT, 'server', 'build', 'http', 'server.mjs');

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

/** Builds the server if its sources changed since the last build; answers the path of the build. */
export async function buildServer() {
  const sources = Math.max(newestMtime(join(ROOT, 'server', 'src')), statSync(fileURLToPath(import.meta.url)).mtimeMs);
  if (existsSync(SERVER_BUILD) && statSync(SERVER_BUILD).mtimeMs >= sources) return SERVER_BUILD;
  // esbuild comes with tsx (a dependency of the platform), so it is installed wherever tsx is
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'server', 'src', 'http', 'server.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    outfile: SERVER_BUILD,
    logLevel: 'warning',
    banner: { js: '// Built from server/src by server/bin/build-server.mjs: do not edit.' },
  });
  mkdirSync(dirname(SERVER_BUILD), { recursive: true });
  // several test files may start platforms at once: each writes its own file and renames it
  // into place, so a process never starts from a half-written build
  const tmp = `${SERVER_BUILD}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, result.outputFiles[0].contents);
  renameSync(tmp, SERVER_BUILD);
  return SERVER_BUILD;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildServer().then((p) => console.log(p));
}

// Test support: reads the systemd units of deploy/systemd as systemd does (what matters of it
// here), and runs a unit's ExecStart the way systemd would start it, as far as a machine without
// systemd as its init allows: the command line and environment taken from the unit file, and,
// when the test runs as root, in a sandbox that plays the unit's main restrictions with plain
// Linux tools (util-linux's unshare, mount, setpriv, prlimit):
//   ProtectSystem=strict + ReadWritePaths   the whole file system remounted read-only in a mount
//   + StateDirectory + ReadOnlyPaths        namespace of its own, but for the unit's writable
//                                           paths, each bound to a directory of the user's (a
//                                           path this machine lacks gets its mount point on an
//                                           empty tmpfs over its parent, in that namespace only)
//   PrivateTmp, ProtectHome                 an empty tmpfs on /tmp; empty read-only ones on /home
//                                           and /root
//   User=, NoNewPrivileges, CapabilityBoundingSet=   setpriv: the user `nobody`, no_new_privs,
//                                           every capability dropped from every set
//   UMask, LimitNOFILE                      umask and prlimit (LimitNOFILE capped at this
//                                           machine's hard limit, which root in a container may
//                                           not raise)
// What it cannot play: the seccomp filter (SystemCallFilter), RestrictAddressFamilies,
// RestrictNamespaces, the Protect* settings of /proc and /sys, and PrivateDevices.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
export const UNIT_DIR = join(ROOT, 'deploy', 'systemd');
/** where the units expect the checkout (docs/operations.md); replaced by this checkout to run them */
export const INSTALL_ROOT = '/opt/chorus';
/** the PATH systemd gives a service (it passes nothing of its own environment) */
const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type Unit = Map<string, Map<string, string[]>>;

/** A unit file: section -> key -> every value, in order (a key may repeat; an empty value resets it). */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (!section || eq < 0) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    section.set(key, [...(section.get(key) ?? []), value]);
  }
  return unit;
}

export function readUnit(name: string): Unit {
  return parseUnit(readFileSync(join(UNIT_DIR, name), 'utf8'));
}

/** The values of a key; for list settings (Environment=, ReadWritePaths=) an empty value clears the list. */
export function values(unit: Unit, section: string, key: string): string[] {
  const all = unit.get(section)?.get(key) ?? [];
  const last = all.lastIndexOf('');
  return all.slice(last + 1);
}

/** %i and %% (the only specifiers the units use) */
export function specifiers(value: string, instance: string): string {
  return value.replaceAll(/%([i%])/g, (_, c: string) => (c === 'i' ? instance : '%'));
}

/** Splits a command line as systemd does for ExecStart= (whitespace, double or single quotes). */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) words.push(m[1] !== undefined ? m[1].replaceAll(/\\(.)/g, '$1') : (m[2] ?? m[3]!));
  return words;
}

/**
 * An environment file as systemd reads it (EnvironmentFile=): KEY=VALUE lines, # and ; comments,
 * values in single quotes taken as they are, in double quotes with \" \\ \$ escapes; unquoted
 * values trimmed.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new Error(`not an environment file line: ${line}`);
    let v = m[2]!;
    if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    else if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replaceAll(/\\(["\\$`])/g, '$1');
    env[m[1]!] = v;
  }
  return env;
}

/**
 * The environment systemd gives the unit's process: its PATH, then Environment= (later ones win),
 * then each EnvironmentFile= in order, which override Environment= (systemd.exec(5)). `files`
 * maps the paths the unit names (after %i) to the contents they have for the test; a file marked
 * optional (`-` prefix) and absent from the map is skipped, a required one missing is an error.
 */
export function unitEnvironment(unit: Unit, instance: string, files: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: SYSTEMD_PATH };
  for (const assignment of values(unit, 'Service', 'Environment')) {
    for (const word of splitCommand(specifiers(assignment, instance))) {
      const eq = word.indexOf('=');
      env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  for (const entry of values(unit, 'Service', 'EnvironmentFile')) {
    const optional = entry.startsWith('-');
    const path = specifiers(optional ? entry.slice(1) : entry, instance);
    const text = files[path];
    if (text === undefined) {
      if (optional) continue;
      throw new Error(`the unit needs ${path}`);
    }
    Object.assign(env, parseEnvFile(text));
  }
  return env;
}

/** A path of the unit, in this checkout instead of /opt/chorus. */
export function local(path: string): string {
  return path.startsWith(`${INSTALL_ROOT}/`) || path === INSTALL_ROOT ? ROOT + path.slice(INSTALL_ROOT.length) : path;
}

/** ExecStart's words, with /opt/chorus read as this checkout. */
export function execStart(unit: Unit, instance: string): string[] {
  const lines = values(unit, 'Service', 'ExecStart');
  if (lines.length !== 1) throw new Error(`expected one ExecStart=, found ${lines.length}`);
  return splitCommand(specifiers(lines[0]!, instance)).map(local);
}

/**
 * ExecStartPre= commands, in order, with /opt/chorus read as this checkout; `ignoreFailure` for
 * those marked `-` (systemd goes on when they fail).
 */
export function execStartPre(unit: Unit, instance: string): { argv: string[]; ignoreFailure: boolean }[] {
  return values(unit, 'Service', 'ExecStartPre').map((line) => {
    const words = splitCommand(specifiers(line, instance));
    const ignoreFailure = words[0]!.startsWith('-');
    if (ignoreFailure) words[0] = words[0]!.slice(1);
    return { argv: words.map(local), ignoreFailure };
  });
}

/**
 * The shell text that runs the ExecStartPre= commands one by one (stopping at the first failure
 * not marked `-`, as systemd does) and then execs ExecStart (so its process is the shell's).
 */
function commandScript(unit: Unit, instance: string, argv: string[], umask?: string): string {
  const pres = execStartPre(unit, instance).map((p) => `${p.argv.map(shq).join(' ')}${p.ignoreFailure ? ' || true' : ' || exit $?'}`);
  return [...(umask ? [`umask ${umask}`] : []), ...pres, `exec ${argv.map(shq).join(' ')}`].join('\n');
}

/** Whether the sandbox can be built here: root, with unshare, setpriv and prlimit. */
export function sandboxAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not running as root (mount namespaces need it)' };
  for (const tool of ['unshare', 'setpriv', 'prlimit', 'mount']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return { ok: false, why: `${tool} is not installed (util-linux)` };
  }
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -o bind,remount,ro / && mount -t tmpfs tmpfs /tmp'], { encoding: 'utf8' });
  if (probe.status !== 0) return { ok: false, why: `a read-only mount namespace cannot be made here: ${probe.stderr.trim()}` };
  return { ok: true };
}

const NOBODY = 65534;
const shq = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export interface RunOptions {
  instance: string;
  /** the contents of the environment files the unit names */
  files: Record<string, string>;
  /** extra variables for the test's own sake (set after the unit's) */
  extraEnv?: Record<string, string>;
  /** run in the sandbox (see above); false runs the command as a plain child process */
  sandbox: boolean;
  /** directories of the test's to stand for the unit's ReadWritePaths= or ReadOnlyPaths= (by the unit's path) */
  paths?: Record<string, string>;
}

export interface UnitRun {
  child: ChildProcess;
  argv: string[];
  env: Record<string, string>;
  /** each writable path (ReadWritePaths=, /var/lib/<StateDirectory=>) and the directory that stands for it */
  writable: Record<string, string>;
  /** directories made for the run, removed by stopRun */
  created: string[];
  /**
   * the open-file limit set (sandbox only): the unit's LimitNOFILE, or this machine's hard limit
   * if that is lower (a container may cap it; systemd, as init, could raise it)
   */
  nofile?: number;
}

/** Starts the unit's ExecStart; its output is piped. */
export function runUnit(unit: Unit, opts: RunOptions): UnitRun {
  const argv = execStart(unit, opts.instance);
  const env = { ...unitEnvironment(unit, opts.instance, opts.files), ...opts.extraEnv };
  const cwd = local(values(unit, 'Service', 'WorkingDirectory').at(-1) ?? '/');
  if (!opts.sandbox) {
    const child = spawn('sh', ['-c', commandScript(unit, opts.instance, argv)], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return { child, argv, env, writable: {}, created: [] };
  }
  const writable: Record<string, string> = {};
  const created: string[] = [];
  const script: string[] = ['set -e'];
  // each path the unit may write or read, bound to a directory of the test's: `opts.paths` names
  // one, or a fresh one is made for the unit's user
  const binds: { path: string; dir: string; readOnly: boolean }[] = [];
  const dirFor = (path: string, mode: number) => {
    if (opts.paths?.[path]) return opts.paths[path];
    const dir = mkdtempSync(join(tmpdir(), 'chorus-unit-'));
    chownSync(dir, NOBODY, NOBODY);
    chmodSync(dir, mode);
    created.push(dir);
    return dir;
  };
  for (const entry of values(unit, 'Service', 'ReadWritePaths').flatMap((v) => v.split(/\s+/))) {
    const path = local(entry.replace(/^-/, ''));
    binds.push({ path, dir: (writable[path] = dirFor(path, 0o700)), readOnly: false });
  }
  // StateDirectory=x: systemd makes /var/lib/x for the unit's user
  const stateMode = parseInt(values(unit, 'Service', 'StateDirectoryMode').at(-1) ?? '0755', 8);
  for (const name of values(unit, 'Service', 'StateDirectory').flatMap((v) => v.split(/\s+/))) {
    const path = `/var/lib/${name}`;
    binds.push({ path, dir: (writable[path] = dirFor(path, stateMode)), readOnly: false });
  }
  for (const entry of values(unit, 'Service', 'ReadOnlyPaths').flatMap((v) => v.split(/\s+/))) {
    const path = local(entry.replace(/^-/, ''));
    if (opts.paths?.[path]) binds.push({ path, dir: opts.paths[path], readOnly: true });
  }
  // a path this machine lacks (/var/lib/chorus, /var/backups/chorus) gets a mount point on an
  // empty tmpfs laid over its parent, in this mount namespace only (the machine's own folders
  // are untouched), made read-only again once the mount points are in it
  const covered = new Set<string>();
  for (const b of binds) {
    if (existsSync(b.path)) continue;
    const parent = dirname(b.path);
    if (!existsSync(parent)) throw new Error(`cannot stand in for ${b.path}: ${parent} does not exist here`);
    if (!covered.has(parent)) script.push(`mount -t tmpfs -o mode=0755 tmpfs ${shq(parent)}`);
    covered.add(parent);
    script.push(`mkdir ${shq(b.path)}`);
  }
  for (const b of binds) {
    script.push(`mount --bind ${shq(b.dir)} ${shq(b.path)}`);
    if (b.readOnly) script.push(`mount -o bind,remount,ro ${shq(b.path)}`);
  }
  for (const parent of covered) script.push(`mount -o remount,ro ${shq(parent)}`);
  script.push('mount -o bind,remount,ro /');
  if (values(unit, 'Service', 'PrivateTmp').at(-1) === 'yes') script.push('mount -t tmpfs -o mode=1777 tmpfs /tmp');
  if (values(unit, 'Service', 'ProtectHome').at(-1) === 'yes') script.push('for d in /home /root; do [ -d "$d" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$d"; done');
  const umask = values(unit, 'Service', 'UMask').at(-1) ?? '0022';
  const wanted = Number(values(unit, 'Service', 'LimitNOFILE').at(-1) ?? 0);
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
  const nofile = wanted ? (Number.isFinite(hard) && hard > 0 ? Math.min(wanted, hard) : wanted) : undefined;
  const limit = nofile ? `prlimit --nofile=${nofile}:${nofile} -- ` : '';
  script.push(
    `exec ${limit}setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups --no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all -- sh -c ${shq(commandScript(unit, opts.instance, argv, umask))}`,
  );
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script.join('\n')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, argv, env, writable, created, nofile };
}

/**
 * Stops a run with SIGTERM (SIGKILL after `ms`), as systemd stops a unit, and removes the
 * directories that stood for its writable paths; answers how it ended.
 */
export async function stopRun(run: UnitRun, ms = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const end = await signalRun(run, ms);
  for (const dir of run.created) rmSync(dir, { recursive: true, force: true });
  return end;
}

function signalRun(run: UnitRun, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = run;
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
    child.kill('SIGTERM');
  });
}

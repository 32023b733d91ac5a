// The systemd units of deploy/systemd (docs/operations.md): each service carries the hardening
// settings the operations guide promises, runs what the builds make (and the server with the
// same V8 flags `npm start` uses), writes only where it must, the environment example names
// every setting the processes read, and systemd's own checker (`systemd-analyze verify`, and
// `security --offline` for the exposure score) finds nothing wrong with the units as installed.
// Starting the units' commands is tests/e2e/systemd-units.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProcesses, PROCESSES, SERVER_NODE_FLAGS } from '../../server/bin/build-processes.mjs';
import { configSchema } from '../../server/src/config/config.ts';
import { execStart, execStartPre, INSTALL_ROOT, readUnit, ROOT, UNIT_DIR, values } from '../support/systemd-unit.ts';

const SERVICES = readdirSync(UNIT_DIR).filter((f) => f.endsWith('.service')).sort();
/** unit file -> an instance to check it as (templates need one) */
const INSTANCE: Record<string, string> = { 'chorus-server@.service': '3001', 'chorus-workers@.service': '1' };
const instanceName = (file: string) => (file.includes('@.') ? file.replace('@.', `@${INSTANCE[file]}.`) : file);

/** setting -> the value every service must have */
const HARDENING: Record<string, string> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  PrivateTmp: 'yes',
  ProtectHome: 'yes',
  PrivateDevices: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectKernelModules: 'yes',
  ProtectControlGroups: 'yes',
  RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
  RestrictNamespaces: 'yes',
  LockPersonality: 'yes',
  CapabilityBoundingSet: '',
  UMask: '0077',
  User: 'chorus',
};

describe('deploy/systemd', () => {
  it('has the units the operations guide installs', () => {
    expect(readdirSync(UNIT_DIR).sort()).toEqual(
      [
        'chorus-backup.service',
        'chorus-backup.timer',
        'chorus-migrate.service',
        'chorus-restore-drill.service',
        'chorus-restore-drill.timer',
        'chorus-server@.service',
        'chorus-workers@.service',
        'chorus.env.example',
        'chorus.target',
      ].sort(),
    );
  });

  it.each(SERVICES)('%s is hardened', (file) => {
    const unit = readUnit(file);
    for (const [key, want] of Object.entries(HARDENING)) {
      expect(unit.get('Service')?.get(key)?.at(-1), `${file}: ${key}`).toBe(want);
    }
    expect(unit.get('Service')?.get('SystemCallFilter')?.[0], `${file}: SystemCallFilter`).toBe('@system-service');
    // V8's JIT writes code and then runs it: the setting would stop Node at start, and the file
    // must say so rather than leave a reader to add it
    expect(unit.get('Service')?.has('MemoryDenyWriteExecute'), file).toBe(false);
    expect(readFileSync(join(UNIT_DIR, file), 'utf8')).toMatch(/No MemoryDenyWriteExecute: .*JIT/);
    expect(values(unit, 'Service', 'EnvironmentFile')[0]).toBe('/etc/chorus/chorus.env');
    // what the processes may write: /var/lib/chorus (exports) for the platform, the backup folder
    // for the backup, nothing else; never the checkout, which an upgrade replaces
    const writable = values(unit, 'Service', 'ReadWritePaths').flatMap((v) => v.split(/\s+/));
    expect(writable, file).toEqual(file === 'chorus-backup.service' ? ['/var/backups/chorus'] : []);
    const platform = file === 'chorus-server@.service' || file === 'chorus-workers@.service';
    expect(values(unit, 'Service', 'StateDirectory'), file).toEqual(platform ? ['chorus'] : []);
  });

  it('long-running services restart on failure and have room for their connections', () => {
    for (const file of ['chorus-server@.service', 'chorus-workers@.service']) {
      const unit = readUnit(file);
      expect(values(unit, 'Service', 'Restart').at(-1), file).toBe('on-failure');
      expect(Number(values(unit, 'Service', 'LimitNOFILE').at(-1)), file).toBeGreaterThanOrEqual(65_536);
      expect(values(unit, 'Install', 'WantedBy'), file).toEqual(['chorus.target']);
      expect(values(unit, 'Unit', 'PartOf'), file).toEqual(['chorus.target']);
      // migrations run before, and a failed one keeps the process from starting
      expect(values(unit, 'Unit', 'Requires'), file).toContain('chorus-migrate.service');
      expect(values(unit, 'Unit', 'After').join(' '), file).toContain('chorus-migrate.service');
      // and never give up restarting (systemd's default stops after 5 starts in 10 s)
      expect(values(unit, 'Unit', 'StartLimitIntervalSec'), file).toEqual(['0']);
    }
  });

  it('the server unit takes its port from the instance, and a per-instance file after the shared one', () => {
    const unit = readUnit('chorus-server@.service');
    expect(values(unit, 'Service', 'Environment')).toContain('PORT=%i');
    expect(values(unit, 'Service', 'EnvironmentFile')).toEqual(['/etc/chorus/chorus.env', '-/etc/chorus/server-%i.env']);
    expect(values(readUnit('chorus-workers@.service'), 'Service', 'EnvironmentFile')).toEqual(['/etc/chorus/chorus.env', '-/etc/chorus/workers-%i.env']);
  });

  it('every ExecStart runs a file the checkout has after a build, the server with the V8 flags npm start uses', async () => {
    await buildProcesses();
    const server = execStart(readUnit('chorus-server@.service'), '3001');
    expect(server).toEqual(['/usr/bin/node', ...SERVER_NODE_FLAGS, PROCESSES.server.build]);
    expect(execStart(readUnit('chorus-workers@.service'), '1')).toEqual(['/usr/bin/node', PROCESSES.workers.build]);
    expect(execStart(readUnit('chorus-migrate.service'), '')).toEqual([join(ROOT, 'node_modules/.bin/prisma'), 'migrate', 'deploy']);
    expect(execStart(readUnit('chorus-backup.service'), '')).toEqual(['/usr/bin/node', join(ROOT, 'server/bin/backup.mjs')]);
    expect(execStart(readUnit('chorus-restore-drill.service'), '')).toEqual(['/usr/bin/node', join(ROOT, 'server/bin/restore-drill.mjs')]);
    expect(execStartPre(readUnit('chorus-migrate.service'), '')).toEqual([{ argv: ['/usr/bin/node', join(ROOT, 'server/bin/wait-for-postgres.mjs')], ignoreFailure: false }]);
    for (const file of SERVICES) {
      const unit = readUnit(file);
      const words = [...execStart(unit, INSTANCE[file] ?? ''), ...execStartPre(unit, INSTANCE[file] ?? '').flatMap((p) => p.argv)];
      for (const word of words.filter((w) => w.startsWith('/'))) expect(existsSync(word), `${file}: ${word}`).toBe(true);
      expect(values(unit, 'Service', 'WorkingDirectory')).toEqual([INSTALL_ROOT]);
    }
  });

  it('the timers start their services daily (backup) and weekly (drill)', () => {
    expect(values(readUnit('chorus-backup.timer'), 'Timer', 'OnCalendar')).toEqual(['*-*-* 03:15:00']);
    expect(values(readUnit('chorus-restore-drill.timer'), 'Timer', 'OnCalendar')).toEqual(['Sun *-*-* 05:30:00']);
    for (const t of ['chorus-backup.timer', 'chorus-restore-drill.timer']) expect(values(readUnit(t), 'Timer', 'Persistent')).toEqual(['true']);
  });

  it('chorus.env.example names every setting the processes read', () => {
    const text = readFileSync(join(UNIT_DIR, 'chorus.env.example'), 'utf8');
    const named = new Set([...text.matchAll(/^#?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    // a process's own ports are the instance's: PORT (Environment=PORT=%i) and its metrics port
    // (server-<port>.env, workers-<n>.env); set in the shared file they would be every instance's
    // (EnvironmentFile= wins over Environment=), and two processes cannot listen on one port
    const perInstance = ['PORT', 'METRICS_PORT', 'WORKERS_METRICS_PORT'];
    const missing = Object.keys(configSchema.shape).filter((k) => !perInstance.includes(k) && !named.has(k));
    expect(missing).toEqual([]);
    for (const k of perInstance) expect([k, named.has(k)]).toEqual([k, false]);
    // the exports go where the units let the processes write (StateDirectory=chorus)
    expect(text).toMatch(/^EXPORT_DIR=\/var\/lib\/chorus\/exports$/m);
    // placeholders, never a real secret
    expect(text).toMatch(/^SECRET_KEY=CHANGE-ME/m);
    expect(text).not.toMatch(/BEGIN PRIVATE KEY-----\\n[A-Za-z0-9+/]{40}/);
  });

  it('systemd-analyze verify finds nothing wrong with the units as installed', (ctx) => {
    const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (analyze.error) ctx.skip(`systemd-analyze is not installed (apt-get install -y systemd): ${analyze.error.message}`);
    const dir = mkdtempSync(join(tmpdir(), 'chorus-units-'));
    try {
      // installed as the guide says, with the checkout at /opt/chorus: here, this checkout
      for (const f of readdirSync(UNIT_DIR)) writeFileSync(join(dir, f), readFileSync(join(UNIT_DIR, f), 'utf8').replaceAll(INSTALL_ROOT, ROOT));
      const units = readdirSync(dir).filter((f) => /\.(service|target|timer)$/.test(f)).map((f) => join(dir, instanceName(f)));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...units], { cwd: dir, encoding: 'utf8' });
      // unknown or misspelt keys are only warnings to systemd: any output at all fails here
      expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
      expect(r.status).toBe(0);

      // the exposure score systemd gives each service (0 is locked down, 10 is wide open)
      const scores: Record<string, number> = {};
      for (const u of units.filter((u) => u.endsWith('.service'))) {
        const s = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', u], { cwd: dir, encoding: 'utf8' });
        const m = /Overall exposure level for \S+: ([\d.]+)/.exec(s.stdout);
        if (!m) continue; // systemd before 252 has no offline mode
        scores[u.slice(dir.length + 1)] = Number(m[1]);
      }
      for (const [u, score] of Object.entries(scores)) expect(score, u).toBeLessThanOrEqual(2);
      console.log(`[systemd] verify clean; exposure ${Object.entries(scores).map(([u, s]) => `${u} ${s}`).join(', ') || 'not measured (no offline mode)'}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// `npm start` with SERVER_PROCESSES=2 and WORKERS_PROCESSES=2, as an organisation would try
// the production layout: the command itself (server/bin/chorus.mjs start), not the tests'
// platform. It must put nginx on PORT in front of two servers on PORT+1 and PORT+2, give each
// server and workers process its own metrics port on loopback (never on PORT), carry a
// signature from nginx to an email in the demo mailbox, and stop every process it started,
// nginx too, when it is stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailboxClient } from '../../server/src/mailbox/mailbox.client.ts';
import { freePorts } from '../support/platform.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SLUG = 'uzbekistan-let-the-rapporteur-in';

let child: ChildProcess;
let output = '';
let port = 0;
let metricsBase = 0;
let mailboxHttp = 0;

beforeAll(async () => {
  port = await freePorts(3);
  metricsBase = await freePorts(4);
  const mail = await freePorts(3);
  mailboxHttp = mail;
  // the demo mailbox, as a new user gets it: no SMTP_URL
  const { SMTP_URL: _ownRelay, ...inherited } = process.env;
  child = spawn('node', ['server/bin/chorus.mjs', 'start'], {
    cwd: ROOT,
    env: {
      ...inherited,
      SERVER_PROCESSES: '2',
      WORKERS_PROCESSES: '2',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      METRICS_PORT: String(metricsBase),
      WORKERS_METRICS_PORT: String(metricsBase + 1),
      MAILBOX_HTTP_PORT: String(mail),
      MAILBOX_SMTP_PORT: String(mail + 1),
      BOUNCE_SMTP_PORT: String(mail + 2),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const end = Date.now() + 240_000;
  while (!/is running/.test(output)) {
    if (child.exitCode !== null) throw new Error(`npm start stopped (${child.exitCode}):\n${output.slice(-3000)}`);
    if (Date.now() > end) throw new Error(`npm start did not say it is running within 240 s:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 260_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 3000));
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

describe('npm start with two server and two workers processes', () => {
  it('says where everything is: nginx on PORT, the servers behind it on loopback, a metrics port each', () => {
    expect(output).toContain(`nginx, in front of 2 server processes on ports ${port + 1}, ${port + 2}`);
    for (const p of [metricsBase, metricsBase + 2, metricsBase + 1, metricsBase + 3]) expect(output).toContain(`127.0.0.1:${p}/metrics`);
  });

  it('serves pages through nginx and from each server, and metrics only on loopback metrics ports', async () => {
    const page = await fetch(`http://127.0.0.1:${port}/actions/${SLUG}`, { headers: { 'accept-language': 'ru' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('server')).toBe('nginx');
    expect(await page.text()).toContain('<html lang="ru"');
    for (const p of [port + 1, port + 2]) expect((await fetch(`http://127.0.0.1:${p}/readyz`)).status).toBe(200);
    // metrics: two servers, two workers processes, each its own port
    for (const p of [metricsBase, metricsBase + 2, metricsBase + 1, metricsBase + 3]) {
      const m = await fetch(`http://127.0.0.1:${p}/metrics`);
      expect(m.status, String(p)).toBe(200);
      expect(await m.text()).toContain('chorus_');
    }
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
  });

  it('carries a signature through nginx to a confirmation email in the demo mailbox', async () => {
    const email = `start.${Date.now()}@example.org`;
    const r = await fetch(`http://127.0.0.1:${port}/api/actions/${SLUG}/signatures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ firstName: 'Started', lastName: 'Twice', email, country: 'FR', consentCount: true }),
    });
    expect(r.status).toBe(202);
    const message = await mailboxClient(`http://127.0.0.1:${mailboxHttp}`).waitFor(() => true, { to: email, timeoutMs: 30_000 });
    const link = new RegExp(`http://127\\.0\\.0\\.1:${port}/[^\\s"<]*confirm/[^\\s"<]+`).exec(message.text ?? '')?.[0];
    expect(link).toBeDefined();
    const confirmPage = await fetch(link!);
    expect(confirmPage.status).toBe(200);
  });

  it('stops every process it started, nginx too', async () => {
    const pidFile = join(ROOT, '.data', 'nginx', `port-${port}`, 'nginx.pid');
    expect(existsSync(pidFile)).toBe(true);
    const nginxPid = Number(readFileSync(pidFile, 'utf8').trim());
    child.kill('SIGTERM');
    const end = Date.now() + 20_000;
    while (child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(child.exitCode).toBe(0);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (alive(nginxPid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(alive(nginxPid)).toBe(false);
    for (const p of [port, port + 1, port + 2, metricsBase, metricsBase + 1]) {
      await expect(fetch(`http://127.0.0.1:${p}/`).then(() => 'answered', () => 'closed'), String(p)).resolves.toBe('closed');
    }
  }, 30_000);
});

// The production site file, as `npm run nginx-config` prints it for a machine with a certificate,
// run by Debian's nginx: TLS with HTTP/2 on the https port, plain HTTP moved to https but for
// certbot's challenge, and the answers of the servers behind it passed through. (The rest of what
// the site does is tested through the same template in scale-out.test.ts and page-cache.test.ts.)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import http2 from 'node:http2';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chorusLocaleAliases, chorusLocales, renderStandalone, NGINX_BIN } from '../../server/bin/nginx-config.mjs';
import { LOCALE_ALIASES, LOCALES } from '../../server/src/shared/locales.ts';
import { freePort } from '../support/platform.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, '.data', `nginx-config-test-${process.pid}`);
const nginxBin = process.env.NGINX_PATH || NGINX_BIN;
let upstream: Server;
let nginx: ReturnType<typeof spawn> | undefined;
let httpsPort = 0;
let httpPort = 0;
const held: (() => void)[] = [];

const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'server', 'bin', 'nginx-config.mjs'), ...args], { encoding: 'utf8' });

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(join(DIR, 'acme', '.well-known', 'acme-challenge'), { recursive: true });
  writeFileSync(join(DIR, 'acme', '.well-known', 'acme-challenge', 'token-1'), 'challenge answer');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(DIR, 'key.pem'), '-out', join(DIR, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  // a stand-in for a server process: it says which address and scheme nginx passed on, and
  // holds signatures to /api/actions/hold/ until the test lets them go
  upstream = createServer((req, res) => {
    if (req.url === '/hold-read') {
      held.push(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('read'));
      return;
    }
    if (req.url === '/api/actions/hold/signatures') {
      held.push(() => res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"accepted"}'));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, forwardedFor: req.headers['x-forwarded-for'], proto: req.headers['x-forwarded-proto'] }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as { port: number }).port;
  [httpsPort, httpPort] = [await freePort(), await freePort()];
  const site = cli([
    '--server-name', 'localhost',
    '--servers', `127.0.0.1:${upstreamPort}`,
    '--listen', String(httpsPort),
    '--http-port', String(httpPort),
    '--tls-certificate', join(DIR, 'cert.pem'),
    '--tls-key', join(DIR, 'key.pem'),
    '--acme-root', join(DIR, 'acme'),
    '--cache-dir', join(DIR, 'cache'),
    '--sign-rate', '50r/s',
    '--signing-conns', '1',
    '--conns-per-address', '3',
  ]);
  expect(site.stderr).toBe('');
  expect(site.status).toBe(0);
  // the printed site, with the inner server's socket moved from /run into this folder
  writeFileSync(join(DIR, 'chorus.conf'), site.stdout.replaceAll('/run/nginx-chorus-inner.sock', join(DIR, 'inner.sock')));
  writeFileSync(join(DIR, 'nginx.conf'), renderStandalone({ prefix: DIR, workerProcesses: 1 }));
  const args = ['-p', DIR, '-c', join(DIR, 'nginx.conf'), '-e', join(DIR, 'error.log')];
  const check = spawnSync(nginxBin, [...args, '-t'], { encoding: 'utf8' });
  expect(check.stderr).toContain('test is successful');
  nginx = spawn(nginxBin, args, { stdio: 'ignore' });
  const until = Date.now() + 15_000;
  while (!(await fetch(`http://127.0.0.1:${httpPort}/x`, { redirect: 'manual' }).then(() => true, () => false))) {
    if (Date.now() > until) throw new Error('nginx did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx!.once('exit', r));
  }
  await new Promise((r) => upstream?.close(r));
  rmSync(DIR, { recursive: true, force: true });
});

describe('the production site file (npm run nginx-config)', () => {
  it('speaks HTTP/2 over TLS and passes the answer, the client address and the scheme on', async () => {
    const client = http2.connect(`https://localhost:${httpsPort}`, { rejectUnauthorized: false });
    try {
      const answer = await new Promise<{ status: number; body: string; headers: http2.IncomingHttpHeaders }>((resolve, reject) => {
        const req = client.request({ ':path': '/api/actions/x', 'x-forwarded-for': '203.0.113.9' });
        let status = 0;
        let headers: http2.IncomingHttpHeaders = {};
        let body = '';
        req.on('response', (h) => {
          status = Number(h[':status']);
          headers = h;
        });
        req.setEncoding('utf8');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => resolve({ status, body, headers }));
        req.on('error', reject);
      });
      expect(client.alpnProtocol).toBe('h2');
      // production does not say whether an answer came from the cache (it would tell that
      // someone with the same language opened the page lately)
      expect(answer.headers['x-cache-status']).toBeUndefined();
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ path: '/api/actions/x', forwardedFor: '127.0.0.1', proto: 'https' });
    } finally {
      client.close();
    }
  });

  it('moves plain HTTP to https, but for the certificate challenge', async () => {
    // whatever Host the client sends, to the site's own name
    const moved = await fetch(`http://127.0.0.1:${httpPort}/actions/x?source=a`, { redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe('https://localhost/actions/x?source=a');
    const challenge = await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/token-1`);
    expect(challenge.status).toBe(200);
    expect(await challenge.text()).toBe('challenge answer');
  });

  it('holds signatures to the servers to their pool, and refuses the rest at once as the servers do', async () => {
    const signTls = () =>
      new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
        const client = http2.connect(`https://localhost:${httpsPort}`, { rejectUnauthorized: false });
        const req = client.request({ ':method': 'POST', ':path': '/api/actions/hold/signatures', 'content-type': 'application/json' });
        let status = 0;
        let retryAfter: string | undefined;
        let body = '';
        req.on('response', (h) => {
          status = Number(h[':status']);
          retryAfter = h['retry-after'] as string | undefined;
        });
        req.setEncoding('utf8');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => {
          client.close();
          resolve({ status, retryAfter, body });
        });
        req.on('error', reject);
        req.end('{}');
      });
    // one signature in flight fills this server's place (--signing-conns 1)
    const first = signTls();
    const until = Date.now() + 5_000;
    while (held.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(held).toHaveLength(1);
    const second = await signTls();
    expect(second.status).toBe(503);
    expect(second.retryAfter).toBe('1');
    expect(JSON.parse(second.body)).toMatchObject({ statusCode: 503, code: 'overloaded' });
    expect(held).toHaveLength(1);
    // readers and staff have their own pool: answered meanwhile
    const client = http2.connect(`https://localhost:${httpsPort}`, { rejectUnauthorized: false });
    const read = await new Promise<number>((resolve, reject) => {
      const req = client.request({ ':path': '/api/actions/x' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
    });
    client.close();
    expect(read).toBe(200);
    held.shift()!();
    expect((await first).status).toBe(202);
    // the place is free again
    const third = signTls();
    while (held.length === 0 && Date.now() < until + 5_000) await new Promise((r) => setTimeout(r, 20));
    held.shift()!();
    expect((await third).status).toBe(202);
  });

  it('lets one address hold only so many requests at once (--conns-per-address), then answers 429', async () => {
    const slow = () => {
      const client = http2.connect(`https://localhost:${httpsPort}`, { rejectUnauthorized: false });
      return new Promise<number>((resolve, reject) => {
        const req = client.request({ ':path': '/hold-read' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.on('end', () => client.close());
      });
    };
    // three requests under way from this address, held by the server
    const holding = [slow(), slow(), slow()];
    const until = Date.now() + 5_000;
    while (held.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(held).toHaveLength(3);
    // a fourth from the same address is refused at once; the others are not disturbed
    expect(await slow()).toBe(429);
    for (const release of held.splice(0)) release();
    expect(await Promise.all(holding)).toEqual([200, 200, 200]);
    // and once they are answered, the address may ask again
    const again = slow();
    while (held.length < 1 && Date.now() < until + 5_000) await new Promise((r) => setTimeout(r, 20));
    held.shift()!();
    expect(await again).toBe(200);
  });

  it('chooses among Chorus\'s own languages, read from the source', () => {
    expect(chorusLocales()).toEqual([...LOCALES]);
    expect(chorusLocaleAliases()).toEqual(LOCALE_ALIASES);
    const site = cli(['--servers', '127.0.0.1:3001']).stdout;
    expect(site).toContain(`(?<chorus_l>${[...LOCALES, ...Object.keys(LOCALE_ALIASES)].join('|')})`);
    for (const l of LOCALES) expect(site).toContain(`"~*^${l}$" ${l};`);
    // a browser asking for Tagalog gets Filipino
    expect(site).toContain('"~*^tl$" fil;');
  });

  it('refuses settings that would break the file, with the reason', () => {
    for (const [args, reason] of [
      [['--servers', '127.0.0.1:3001', '--sign-rate', 'fast'], 'the signing rate must look like 10r/s'],
      [['--servers', '127.0.0.1:3001;evil'], 'is not host:port'],
      [['--servers', '127.0.0.1:3001', '--server-name', 'a; include /etc/passwd'], 'must not contain'],
      [['--servers', '127.0.0.1:3001', '--tls-certificate', '/x.pem'], '--tls-certificate and --tls-key go together'],
      [['--servers', '127.0.0.1:3001', '--tls-certificate', '/x.pem', '--tls-key', '/k.pem'], '--server-name is required with TLS'],
      [['--servers', '127.0.0.1:3001', '--conns-per-address', '70000'], 'from 1 to 65535'],
      [['--servers', '127.0.0.1:3001', '--miss-rate', 'lots'], '--miss-rate must look like 10r/s'],
      [['--servers', '127.0.0.1:3001', '--miss-burst', '-1'], '--miss-burst must be a whole number'],
      [[], '--servers is required'],
    ] as const) {
      const r = cli([...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(reason);
      expect(r.stdout).toBe('');
    }
  });
});

#!/usr/bin/env node
// deploy/nginx's site, rendered and run. One template (deploy/nginx/chorus.conf.template) serves
// production, `npm start` with several server processes, the end-to-end tests and the benchmark,
// so what the tests measure is what is deployed.
//
//   npm run nginx-config -- --server-name chorus.example.org --servers 127.0.0.1:3001,127.0.0.1:3002 \
//     --tls-certificate /etc/letsencrypt/live/chorus.example.org/fullchain.pem \
//     --tls-key /etc/letsencrypt/live/chorus.example.org/privkey.pem
// prints the site file for /etc/nginx/sites-available/ (docs/operations.md). Plain Node, no dependencies.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SITE_TEMPLATE = join(ROOT, 'deploy', 'nginx', 'chorus.conf.template');
export const STANDALONE_TEMPLATE = join(ROOT, 'deploy', 'nginx', 'standalone.conf.template');
/** where Debian's package puts nginx */
export const NGINX_BIN = '/usr/sbin/nginx';

/**
 * Fills a template: `{{name}}` is replaced by the value, a `{{#name}}...{{/name}}` section is kept
 * when the value is set (not undefined, null, false or ''), a `{{^name}}...{{/name}}` section when
 * it is not. A placeholder without a value is an error, so no rendered file holds a `{{`.
 */
export function renderTemplate(text, values) {
  const on = (name) => values[name] !== undefined && values[name] !== null && values[name] !== false && values[name] !== '';
  let out = text.replace(/^[ \t]*\{\{([#^])(\w+)\}\}[ \t]*\n([\s\S]*?)^[ \t]*\{\{\/\2\}\}[ \t]*\n/gm, (_m, kind, name, body) =>
    (kind === '#') === on(name) ? body : '',
  );
  out = out.replace(/\{\{(\w+)\}\}/g, (_m, name) => {
    if (!on(name)) throw new Error(`nginx template: no value for {{${name}}}`);
    const value = String(values[name]);
    // a value is one token or path: nothing that could end a directive or open a block
    if (/[;{}\n"']/.test(value) && !MULTI_LINE.has(name)) throw new Error(`nginx template: {{${name}}} must not contain ; { } quotes or line breaks: ${value}`);
    return value;
  });
  if (out.includes('{{')) throw new Error('nginx template: an unclosed section');
  return out;
}

/** values the renderer itself writes as whole lines of directives */
const MULTI_LINE = new Set(['upstream_servers', 'signing_servers', 'locale_lines']);

/**
 * Chorus's languages (server/src/shared/locales.ts, LOCALES), read from the source so that this
 * file needs nothing but Node: nginx chooses among them (chorus_lang).
 */
export function chorusLocales() {
  const text = readFileSync(join(ROOT, 'server', 'src', 'shared', 'locales.ts'), 'utf8');
  const m = /export const LOCALES = \[([^\]]*)\]/.exec(text);
  const locales = m ? [...m[1].matchAll(/'([a-z]{2,3})'/g)].map((x) => x[1]) : [];
  if (locales.length === 0) throw new Error('nginx site: no LOCALES found in server/src/shared/locales.ts');
  return locales;
}

/** Other codes browsers send for Chorus's languages (LOCALE_ALIASES in locales.ts): { tl: 'fil' } */
export function chorusLocaleAliases() {
  const text = readFileSync(join(ROOT, 'server', 'src', 'shared', 'locales.ts'), 'utf8');
  const m = /export const LOCALE_ALIASES[^=]*= \{([^}]*)\}/.exec(text);
  return Object.fromEntries(m ? [...m[1].matchAll(/([a-z]{2,3}): '([a-z]{2,3})'/g)].map((x) => [x[1], x[2]]) : []);
}

const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]|[a-z0-9.-]+):\d{1,5}$/i;

/**
 * The site file.
 * @param {object} o
 * @param {string[]} o.servers the server processes, host:port each
 * @param {string|number} o.listen what nginx listens on: a port, or address:port
 * @param {string} o.cacheDir the cache's folder
 * @param {string} [o.serverName] the site's host name ('_': any)
 * @param {{ certificate: string, key: string, httpPort?: number, acmeRoot?: string }} [o.tls]
 * @param {string} [o.acmeRoot] certbot's webroot folder, without TLS (with TLS: tls.acmeRoot)
 * @param {number} [o.connsPerAddress] requests under way at once from one client address (128); beyond, 429
 * @param {boolean} [o.cacheStatusHeader] send X-Cache-Status (the tests read it; off in production)
 * @param {number} [o.signingConns] signatures in flight at once per server through the API (64)
 * @param {string} [o.signRate] limit_req for signing, such as '10r/s' (off when unset)
 * @param {number} [o.signBurst]
 * @param {string} [o.innerSocket] the unix socket of the inner, compressing server (default /run/nginx-chorus-inner.sock)
 * @param {string} [o.realIpFrom] a load balancer in front of nginx (address or CIDR) whose X-Forwarded-For names the client
 * @param {string} [o.missRate] reads of an action page or the action API that the cache cannot answer, per client address, such as '10r/s' (the default)
 * @param {number} [o.missBurst] how many such reads may come at once beyond the rate (50)
 * @param {string[]} [o.locales] the languages nginx chooses among (default: Chorus's, chorusLocales())
 * @param {string} [o.errorLog] nginx's error log for the site, critical lines only (/var/log/nginx/error.log)
 */
export function renderSite(o) {
  if (!o.servers?.length) throw new Error('nginx site: at least one server (host:port) is needed');
  for (const s of o.servers) if (!ADDRESS.test(s)) throw new Error(`nginx site: "${s}" is not host:port`);
  if (o.realIpFrom !== undefined && !/^[0-9a-f.:]+(?:\/\d{1,3})?$/i.test(o.realIpFrom)) throw new Error(`nginx site: --real-ip-from must be an address or CIDR range, not "${o.realIpFrom}"`);
  const connsPerAddress = o.connsPerAddress ?? 128;
  // nginx takes a limit below 65,536
  if (!Number.isInteger(connsPerAddress) || connsPerAddress < 1 || connsPerAddress > 65_535) throw new Error(`nginx site: --conns-per-address must be a whole number from 1 to 65535, not "${o.connsPerAddress}"`);
  const signingConns = o.signingConns ?? 64;
  if (!Number.isInteger(signingConns) || signingConns < 1 || signingConns > 10_000) throw new Error(`nginx site: --signing-conns must be a whole number from 1 to 10000, not "${o.signingConns}"`);
  if (o.signRate !== undefined && !/^\d+r\/[sm]$/.test(o.signRate)) throw new Error(`nginx site: the signing rate must look like 10r/s or 600r/m, not "${o.signRate}"`);
  const missRate = o.missRate ?? '10r/s';
  if (!/^\d+r\/[sm]$/.test(missRate)) throw new Error(`nginx site: --miss-rate must look like 10r/s or 600r/m, not "${o.missRate}"`);
  const missBurst = o.missBurst ?? 50;
  if (!Number.isInteger(missBurst) || missBurst < 0 || missBurst > 100_000) throw new Error(`nginx site: --miss-burst must be a whole number from 0 to 100000, not "${o.missBurst}"`);
  const locales = o.locales ?? chorusLocales();
  const aliases = o.locales ? {} : Object.fromEntries(Object.entries(chorusLocaleAliases()).filter(([, l]) => locales.includes(l)));
  for (const l of locales) if (!/^[a-z]{2,3}$/.test(l)) throw new Error(`nginx site: "${l}" is not a language code`);
  return renderTemplate(readFileSync(SITE_TEMPLATE, 'utf8'), {
    upstream_servers: o.servers.map((s) => `    server ${s} max_fails=0;`).join('\n'),
    signing_servers: o.servers.map((s) => `    server ${s} max_fails=0 max_conns=${signingConns};`).join('\n'),
    signing_conns: String(signingConns),
    listen: String(o.listen),
    cache_dir: o.cacheDir,
    server_name: o.serverName ?? '_',
    tls: Boolean(o.tls),
    tls_certificate: o.tls?.certificate,
    tls_certificate_key: o.tls?.key,
    http_port: o.tls ? String(o.tls.httpPort ?? 80) : undefined,
    acme_root: o.tls?.acmeRoot ?? o.acmeRoot ?? '/var/www/letsencrypt',
    sign_rate: o.signRate,
    sign_burst: o.signRate ? String(o.signBurst ?? 20) : undefined,
    real_ip_from: o.realIpFrom,
    inner_socket: o.innerSocket ?? '/run/nginx-chorus-inner.sock',
    conns_per_address: String(connsPerAddress),
    cache_status_header: Boolean(o.cacheStatusHeader),
    error_log: o.errorLog ?? '/var/log/nginx/error.log',
    miss_rate: missRate,
    miss_burst: String(missBurst),
    locale_alternatives: [...locales, ...Object.keys(aliases)].join('|'),
    // each language as nginx matched it (any case) to the code Chorus knows
    locale_lines: [...locales.map((l) => [l, l]), ...Object.entries(aliases)].map(([asked, l]) => `    "~*^${asked}$" ${l};`).join('\n'),
  });
}

/** nginx.conf for nginx on its own, every path under `prefix`, including the site as chorus.conf. */
export function renderStandalone(o) {
  return renderTemplate(readFileSync(STANDALONE_TEMPLATE, 'utf8'), {
    prefix: o.prefix,
    worker_processes: String(o.workerProcesses ?? Math.min(2, cpus().length)),
    access_log: o.accessLog ?? 'off',
  });
}

function waitForPort(port, host, timeoutMs) {
  const until = Date.now() + timeoutMs;
  return new Promise((resolvePort, reject) => {
    const attempt = () => {
      const socket = connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolvePort();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > until) reject(new Error(`nginx did not listen on ${host}:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/**
 * Writes the standalone configuration and the site into `dir`, checks it (`nginx -t`), and starts
 * nginx in the foreground as a child of this process. Answers { url, dir, stop(), pid }.
 * With `exitWithParent`, nginx is stopped when this process is gone, however it ended (the
 * test suite and `npm start` want that; see supervise.mjs).
 */
export async function startNginx(o) {
  const nginx = o.nginx ?? NGINX_BIN;
  if (!existsSync(nginx)) throw new Error(`nginx is not installed at ${nginx} (apt-get install -y nginx-light)`);
  const dir = resolve(o.dir);
  const listenHost = o.host ?? '127.0.0.1';
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'chorus.conf'), renderSite({ ...o.site, listen: `${listenHost}:${o.port}`, cacheDir: join(dir, 'cache'), innerSocket: join(dir, 'inner.sock'), errorLog: join(dir, 'error.log') }));
  writeFileSync(join(dir, 'nginx.conf'), renderStandalone({ prefix: dir, workerProcesses: o.workerProcesses, accessLog: o.accessLog }));
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
  const test = spawnSync(nginx, [...args, '-t', '-q'], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t refused the configuration in ${dir}:\n${test.stderr}`);
  const child = o.exitWithParent
    ? spawn(process.execPath, [join(ROOT, 'server', 'bin', 'supervise.mjs'), nginx, ...args], { stdio: ['ignore', 'inherit', 'inherit'] })
    : spawn(nginx, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  const ended = new Promise((r) => child.once('exit', () => ((exited = true), r())));
  try {
    await Promise.race([waitForPort(o.port, listenHost, 15_000), ended.then(() => Promise.reject(new Error(`nginx stopped at start; see ${join(dir, 'error.log')}`)))]);
  } catch (err) {
    if (!exited) child.kill('SIGTERM');
    throw err;
  }
  return {
    url: `http://${listenHost}:${o.port}`,
    dir,
    pid: child.pid,
    /** the master process and its workers, for CPU accounting */
    process: child,
    async stop() {
      if (exited) return;
      // SIGQUIT: finish what is in flight; SIGTERM after 5 s
      child.kill('SIGQUIT');
      const t = setTimeout(() => child.kill('SIGTERM'), 5_000);
      await ended;
      clearTimeout(t);
    },
  };
}

// ------------------------------------------------------------------ command line

function usage() {
  return `usage: npm run nginx-config -- --servers HOST:PORT[,HOST:PORT...] [--server-name NAME] [--listen PORT]
         [--tls-certificate FILE --tls-key FILE] [--http-port 80] [--acme-root DIR]
         [--cache-dir /var/cache/nginx/chorus] [--sign-rate 10r/s] [--sign-burst 20]
         [--real-ip-from ADDRESS|CIDR] [--signing-conns 64] [--conns-per-address 128]
         [--miss-rate 10r/s] [--miss-burst 50]
Prints the site file for /etc/nginx/sites-available/chorus. With --tls-certificate, nginx listens
with TLS and HTTP/2 on --listen (443) and moves plain HTTP on --http-port to https.`;
}

function cli(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(usage());
      return 0;
    }
    if (!a.startsWith('--') || argv[i + 1] === undefined) {
      console.error(`${usage()}\n\nnot understood: ${a}`);
      return 2;
    }
    opts[a.slice(2)] = argv[++i];
  }
  if (!opts.servers) {
    console.error(`${usage()}\n\n--servers is required`);
    return 2;
  }
  const tls = opts['tls-certificate'] || opts['tls-key'];
  if (tls && !(opts['tls-certificate'] && opts['tls-key'])) {
    console.error('--tls-certificate and --tls-key go together');
    return 2;
  }
  if (tls && !opts['server-name']) {
    console.error('--server-name is required with TLS: plain HTTP is moved to https://<server name>');
    return 2;
  }
  try {
    process.stdout.write(
      renderSite({
        servers: opts.servers.split(',').map((s) => s.trim()).filter(Boolean),
        listen: opts.listen ?? (tls ? '443' : '80'),
        serverName: opts['server-name'],
        cacheDir: opts['cache-dir'] ?? '/var/cache/nginx/chorus',
        tls: tls ? { certificate: opts['tls-certificate'], key: opts['tls-key'], httpPort: Number(opts['http-port'] ?? 80), acmeRoot: opts['acme-root'] } : undefined,
        acmeRoot: opts['acme-root'],
        signRate: opts['sign-rate'],
        signBurst: opts['sign-burst'] === undefined ? undefined : Number(opts['sign-burst']),
        realIpFrom: opts['real-ip-from'],
        signingConns: opts['signing-conns'] === undefined ? undefined : Number(opts['signing-conns']),
        connsPerAddress: opts['conns-per-address'] === undefined ? undefined : Number(opts['conns-per-address']),
        missRate: opts['miss-rate'],
        missBurst: opts['miss-burst'] === undefined ? undefined : Number(opts['miss-burst']),
      }),
    );
    return 0;
  } catch (err) {
    console.error(err.message);
    return 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(cli(process.argv.slice(2)));

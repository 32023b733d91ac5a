#!/usr/bin/env node
// The commands a new user runs: `npm start`, `npm test` and `npm run bench`. Plain Node with no
// dependencies, because it runs before anything is installed. It installs what is missing
// (npm packages, the Prisma client, Debian's Chromium for browser tests), checks PostgreSQL
// and Redis, creates and migrates the database, seeds, builds the pages, and then either
// runs the platform or runs the whole test suite.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_DKIM_SELECTOR, ensureDkimKey, generateDkimKey } from './dkim-key.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA = join(ROOT, '.data');
const command = process.argv[2] ?? 'start';

const say = (msg) => console.log(`\x1b[1mchorus\x1b[0m ${msg}`);
function fail(msg) {
  console.error(`\x1b[31mchorus: ${msg}\x1b[0m`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...opts.env }, ...opts });
  if (r.error) fail(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) fail(`${cmd} ${args.join(' ')} exited with ${r.status}`);
  return r.status ?? 1;
}

function newestMtime(paths) {
  let newest = 0;
  const visit = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) if (e !== 'node_modules' && e !== '.svelte-kit' && e !== 'build') visit(join(p, e));
    } else newest = Math.max(newest, st.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

// ------------------------------------------------------------------ node and npm packages

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) fail(`Node.js >= 20.19 is needed; this is ${process.versions.node}`);
}

function installPackages() {
  const stamp = join(ROOT, 'node_modules', '.package-lock.json');
  const lock = join(ROOT, 'package-lock.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm packages (npm ci)...');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}

/** The query types (Kysely's, by prisma-kysely) and the Prisma Client, from prisma/schema.prisma. */
function generateQueryTypes(env) {
  const schema = statSync(join(ROOT, 'prisma', 'schema.prisma')).mtimeMs;
  const outs = [join(ROOT, 'server', 'src', 'generated', 'kysely', 'types.ts'), join(ROOT, 'server', 'src', 'generated', 'prisma', 'client.ts')];
  if (outs.every((out) => existsSync(out) && statSync(out).mtimeMs >= schema)) return;
  say('generating the query types and Prisma Client from the schema...');
  run(join(ROOT, 'node_modules', '.bin', 'prisma'), ['generate'], { env });
}

/** Sources of the OpenAPI document the web's types come from: the server's code, tests aside. */
function newestServerSource() {
  let newest = statSync(join(ROOT, 'server', 'bin', 'web-contract.ts')).mtimeMs;
  const visit = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (!e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  visit(join(ROOT, 'server', 'src'));
  return newest;
}

/**
 * The web's API types (web/src/lib/api/schema.d.ts), generated from the OpenAPI document that the
 * route schemas make (server/bin/web-contract.ts). Run again when a server source is newer than
 * the last run; the file itself changes only when the contract does, and with it the web build.
 */
function generateWebContract() {
  const stamp = join(DATA, 'web-contract.stamp');
  const schema = join(ROOT, 'web', 'src', 'lib', 'api', 'schema.d.ts');
  if (existsSync(schema) && existsSync(stamp) && statSync(stamp).mtimeMs >= newestServerSource()) return;
  say('generating the web\'s API types from the OpenAPI document...');
  run('node', ['--import', 'tsx', join('server', 'bin', 'web-contract.ts')], { stdio: ['ignore', 'ignore', 'inherit'] });
  mkdirSync(DATA, { recursive: true });
  writeFileSync(stamp, new Date().toISOString());
}

/** The pages (web/build), after their API types; svelte-check runs after this too. */
function buildWeb() {
  generateWebContract();
  const handler = join(ROOT, 'web', 'build', 'handler.js');
  const sources = newestMtime([join(ROOT, 'web'), join(ROOT, 'server', 'src', 'shared')]);
  if (existsSync(handler) && statSync(handler).mtimeMs >= sources) return;
  say('building the pages (vite build)...');
  // SvelteKit writes the tsconfig that web/tsconfig.json extends; without it vite warns
  run(join(ROOT, 'node_modules', '.bin', 'svelte-kit'), ['sync'], { cwd: join(ROOT, 'web') });
  run(join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], { cwd: join(ROOT, 'web') });
}

// ------------------------------------------------------------------ services

async function checkPostgres(databaseUrl) {
  const { default: pg } = await import('pg');
  const target = new URL(databaseUrl);
  const dbName = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    fail(
      `PostgreSQL is not reachable at ${target.host} (${err.message}).\n` +
        `  Start one, or point DATABASE_URL at one. On Debian: sudo apt-get install -y postgresql && sudo service postgresql start`,
    );
  }
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (rows.length === 0) {
      say(`creating database ${dbName}...`);
      await client.query(`CREATE DATABASE "${dbName.replaceAll('"', '""')}"`);
    }
  } finally {
    await client.end();
  }
}

async function recreateDatabase(databaseUrl) {
  const { default: pg } = await import('pg');
  const dbName = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${dbName.replaceAll('"', '""')}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${dbName.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

async function checkRedis(redisUrl) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 5000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const policy = await redis.config('GET', 'maxmemory-policy').catch(() => null);
    if (Array.isArray(policy) && policy[1] && policy[1] !== 'noeviction') {
      say(`warning: Redis maxmemory-policy is ${policy[1]}; BullMQ needs noeviction (redis-cli config set maxmemory-policy noeviction)`);
    }
  } catch (err) {
    fail(
      `Redis is not reachable at ${new URL(redisUrl).host} (${err.message}).\n` +
        `  Start one, or point REDIS_URL at one. On Debian: sudo apt-get install -y redis-server && sudo redis-server --daemonize yes`,
    );
  } finally {
    redis.disconnect();
  }
  return redisUrl;
}

async function flushRedis(redisUrl) {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  await redis.flushdb();
  redis.disconnect();
}

function migrate(env) {
  say('applying database migrations...');
  run(join(ROOT, 'node_modules', '.bin', 'prisma'), ['migrate', 'deploy'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** A digest of every migration: the test template is migrated again only when it changes. */
function migrationsDigest() {
  const hash = createHash('sha256');
  const visit = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else hash.update(`${p.slice(ROOT.length)}\0`).update(readFileSync(p));
    }
  };
  visit(join(ROOT, 'prisma', 'migrations'));
  hash.update(readFileSync(join(ROOT, 'prisma', 'schema.prisma')));
  return hash.digest('hex').slice(0, 32);
}

/**
 * The test suite's template database: migrated once, then copied for each test worker
 * (tests/support/global-setup.ts). Kept between runs while the migrations are the same (the
 * digest is the database's comment); otherwise dropped, created and migrated again. Answers
 * whether it was reused.
 */
async function prepareTemplate(env) {
  const { default: pg } = await import('pg');
  const dbName = decodeURIComponent(new URL(env.DATABASE_URL).pathname.slice(1));
  const quoted = `"${dbName.replaceAll('"', '""')}"`;
  const digest = `chorus-migrations:${migrationsDigest()}`;
  const admin = new URL(env.DATABASE_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [dbName]);
    if (rows[0]?.comment === digest) return true;
    await client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoted}`);
    migrate(env);
    await client.query(`COMMENT ON DATABASE ${quoted} IS '${digest}'`);
    return false;
  } finally {
    await client.end();
  }
}

/** Installs a Debian package with apt-get (as root, or through `sudo -n`); false when it cannot. */
function aptInstall(pkg, options = []) {
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : ['sudo', '-n'];
  const apt = (args) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
    return spawnSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status;
  };
  return apt(['update', '-qq']) === 0 && apt(['install', '-y', '-qq', ...options, pkg]) === 0;
}

/**
 * A tool from a Debian package, installed with apt-get when missing: `env` names a variable that
 * may point at another copy; `service` is a daemon the package starts that Chorus does not use
 * (stopped and disabled: Chorus runs its own, in the foreground, where it needs one).
 */
function ensureDebianTool({ bin, pkg, purpose, env, aptOptions = [], service }) {
  if (env && process.env[env] && existsSync(process.env[env])) return process.env[env];
  if (existsSync(bin)) return bin;
  say(`installing Debian's ${pkg} ${purpose} (apt-get)...`);
  if (!aptInstall(pkg, aptOptions) || !existsSync(bin)) {
    fail(`could not install ${pkg}: run \`sudo apt-get install -y ${[...aptOptions, pkg].join(' ')}\`${env ? ` (or set ${env})` : ''} and try again`);
  }
  if (service) {
    spawnSync('sh', ['-c', `command -v service >/dev/null && service ${service} stop; command -v systemctl >/dev/null && systemctl disable --now ${service}`], { stdio: 'ignore' });
  }
  return bin;
}

const ensureChromium = () => ensureDebianTool({ bin: '/usr/bin/chromium', pkg: 'chromium', purpose: 'for the browser tests', env: 'CHROMIUM_PATH' });
/** Debian's nginx, the front production runs (deploy/nginx): the tests and the benchmark run it too */
const ensureNginx = () =>
  ensureDebianTool({ bin: '/usr/sbin/nginx', pkg: 'nginx-light', purpose: 'for the front the tests and the benchmark run', env: 'NGINX_PATH', service: 'nginx' });
/** promtool, from the prometheus package: the tests check the alert rules with it (deploy/prometheus) */
const ensurePromtool = () =>
  ensureDebianTool({ bin: '/usr/bin/promtool', pkg: 'prometheus', purpose: 'for promtool, to check the alert rules', aptOptions: ['--no-install-recommends'], service: 'prometheus' });
const ensurePdftotext = () => ensureDebianTool({ bin: '/usr/bin/pdftotext', pkg: 'poppler-utils', purpose: 'for pdftotext, for the PDF tests' });

// ------------------------------------------------------------------ configuration

function secretKey() {
  if (process.env.SECRET_KEY) return process.env.SECRET_KEY;
  const file = join(DATA, 'secret-key');
  if (!existsSync(file)) {
    mkdirSync(DATA, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
    say(`generated a SECRET_KEY for this machine in ${file} (set SECRET_KEY to use your own)`);
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * The key that seals personal data at rest (server/src/privacy/personal-data.ts): DATA_KEY (and
 * DATA_KEY_PREVIOUS) if set, else the keyring generated once into .data/data-keys.json, which
 * `npm run keys -- rotate` rotates. Kept apart from the database and its backups.
 */
function dataKey() {
  if (process.env.DATA_KEY) return { DATA_KEY: process.env.DATA_KEY, ...(process.env.DATA_KEY_PREVIOUS ? { DATA_KEY_PREVIOUS: process.env.DATA_KEY_PREVIOUS } : {}) };
  const file = process.env.DATA_KEY_FILE || join(DATA, 'data-keys.json');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify({ keys: [randomBytes(32).toString('hex')] }, null, 2)}\n`, { mode: 0o600 });
    say(`generated a key that seals personal data in ${file} (set DATA_KEY to use your own; keep it apart from the database's backups)`);
  }
  return { DATA_KEY_FILE: file };
}

/** Seals rows stored in clear before sealing existed (npm run keys -- seal): nothing to do on a new database. */
function sealLegacyRows(env) {
  run('node', ['--import', 'tsx', 'server/bin/keys.ts', 'seal'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * The DKIM key that signs every email: DKIM_PRIVATE_KEY if set, else the one generated once into
 * .data/dkim-<selector>.pem for DKIM_SELECTOR (chorus2026 unless set). `npm run dns` prints the
 * records to publish for it.
 */
function dkimKey() {
  const selector = process.env.DKIM_SELECTOR || DEFAULT_DKIM_SELECTOR;
  if (process.env.DKIM_PRIVATE_KEY) return { DKIM_SELECTOR: selector, DKIM_PRIVATE_KEY: process.env.DKIM_PRIVATE_KEY };
  const { pem, file, generated } = ensureDkimKey(DATA, selector);
  if (generated) say(`generated a DKIM key (selector ${selector}) in ${file}; \`npm run dns\` prints the DNS records to publish for it`);
  return { DKIM_SELECTOR: selector, DKIM_PRIVATE_KEY: pem };
}

/** The test suite's own database and Redis database, never the ones `npm start` uses. */
function testUrls() {
  const db = new URL(process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus');
  if (!process.env.TEST_DATABASE_URL) db.pathname = `/${decodeURIComponent(db.pathname.slice(1) || 'chorus')}_test`;
  const redis = new URL(process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  if (!process.env.TEST_REDIS_URL) redis.pathname = '/15';
  return { DATABASE_URL: db.toString(), REDIS_URL: redis.toString() };
}

/**
 * How many server and workers processes `npm start` runs (SERVER_PROCESSES, WORKERS_PROCESSES;
 * one each unless set), and whether nginx is in front: always with more than one server (they
 * listen on ports of their own behind it), and with NGINX=1 for one.
 */
function processLayout() {
  const count = (name) => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return 1;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 16) fail(`${name} must be a whole number from 1 to 16, not "${raw}"`);
    return n;
  };
  const servers = count('SERVER_PROCESSES');
  const workers = count('WORKERS_PROCESSES');
  const nginx = process.env.NGINX ?? '';
  if (!['', '0', '1'].includes(nginx)) fail(`NGINX must be 1 (nginx in front) or 0, not "${nginx}"`);
  if (nginx === '0' && servers > 1) fail('several server processes need nginx in front of them: unset NGINX, or set SERVER_PROCESSES=1');
  return { servers, workers, front: servers > 1 || nginx === '1', nginx: undefined };
}

// ------------------------------------------------------------------ commands

async function start() {
  checkNode();
  installPackages();
  const env = {
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    PORT: process.env.PORT ?? '3000',
    SECRET_KEY: secretKey(),
    ...dataKey(),
    ...dkimKey(),
    // request-by-request logs are noise for a person trying the demo; LOG_LEVEL=info shows them
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // the processes stop when this command is gone, even if it was killed outright (SIGKILL)
    CHORUS_EXIT_WITH_PARENT: '1',
  };
  env.PUBLIC_BASE_URL = process.env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`;
  const ownMailbox = !process.env.SMTP_URL;
  const mailboxHttp = process.env.MAILBOX_HTTP_PORT ?? '1080';
  const mailboxSmtp = process.env.MAILBOX_SMTP_PORT ?? '1025';
  env.SMTP_URL = process.env.SMTP_URL ?? `smtp://127.0.0.1:${mailboxSmtp}?tls=off`;
  // the workers take bounces (VERP) on this port; BOUNCE_SMTP_PORT= (empty) turns it off
  env.BOUNCE_SMTP_PORT = process.env.BOUNCE_SMTP_PORT ?? '2525';

  const layout = processLayout();
  if (layout.front) {
    layout.nginx = ensureNginx();
    // the servers believe nginx's X-Forwarded-For, and only that
    env.TRUSTED_PROXIES = [process.env.TRUSTED_PROXIES, '127.0.0.1'].filter(Boolean).join(',');
  }

  generateQueryTypes(env);
  await checkPostgres(env.DATABASE_URL);
  await checkRedis(env.REDIS_URL);
  migrate(env);
  sealLegacyRows(env);
  say('seeding demo data...');
  run('node', ['--import', 'tsx', 'prisma/seed.ts'], { env });
  buildWeb();

  // every process runs from its build on plain Node (see build-processes.mjs: about 90 MB less
  // resident each than through tsx, and no transpiling at each start)
  const { buildProcesses, SERVER_NODE_FLAGS } = await import('./build-processes.mjs');
  const builds = await buildProcesses();

  const children = [];
  const launch = (name, script, extraEnv = {}) => {
    const child = spawn('node', name.startsWith('server') ? [...SERVER_NODE_FLAGS, script] : [script], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...extraEnv },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`chorus: ${name} stopped (${signal ?? code}); stopping the rest`);
        stop(code || 1);
      }
    });
    children.push(child);
  };
  let stopping = false;
  let front;
  const stop = (code = 0) => {
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    front?.stop();
    const wait = setInterval(() => {
      if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) {
        clearInterval(wait);
        process.exit(code);
      }
    }, 100);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  // npm does not always pass its SIGTERM on: when npm is gone (this process has another
  // parent now), everything stops as if this process had been told to
  const parent = process.ppid;
  setInterval(() => {
    if (!stopping && process.ppid !== parent) stop(0);
  }, 500).unref();

  if (ownMailbox) launch('mailbox', builds.mailbox, { MAILBOX_HTTP_PORT: mailboxHttp, MAILBOX_SMTP_PORT: mailboxSmtp });
  // server k on its own port behind nginx (PORT+1, PORT+2, ...), or alone on PORT; metrics on
  // even ports from METRICS_PORT for the servers, odd ones from WORKERS_METRICS_PORT for the workers
  const metricsBase = Number(process.env.METRICS_PORT ?? 9464);
  const workersMetricsBase = Number(process.env.WORKERS_METRICS_PORT ?? 9465);
  const serverPorts = [];
  for (let k = 0; k < layout.servers; k++) {
    const port = layout.front ? Number(env.PORT) + 1 + k : Number(env.PORT);
    serverPorts.push(port);
    launch(k === 0 ? 'server' : `server-${k + 1}`, builds.server, {
      PORT: String(port),
      ...(layout.front ? { HOST: '127.0.0.1' } : {}),
      ...(k > 0 ? { METRICS_PORT: String(metricsBase + 2 * k) } : {}),
    });
  }
  for (let k = 0; k < layout.workers; k++) {
    // one bounce endpoint is enough: the first workers process runs it
    launch(k === 0 ? 'workers' : `workers-${k + 1}`, builds.workers, k > 0 ? { WORKERS_METRICS_PORT: String(workersMetricsBase + 2 * k), BOUNCE_SMTP_PORT: '' } : {});
  }

  // say where everything is once the servers answer
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const answers = await Promise.all(serverPorts.map((port) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)));
    if (answers.every(Boolean)) {
      if (layout.front) {
        const { startNginx } = await import('./nginx-config.mjs');
        try {
          front = await startNginx({
            nginx: layout.nginx,
            // a folder per port: two instances started from one checkout keep apart
            dir: join(DATA, 'nginx', `port-${env.PORT}`),
            port: Number(env.PORT),
            host: process.env.HOST ?? '0.0.0.0',
            site: { servers: serverPorts.map((port) => `127.0.0.1:${port}`) },
            exitWithParent: true,
          });
        } catch (err) {
          console.error(`chorus: nginx did not start: ${err.message}`);
          stop(1);
          return;
        }
      }
      const metrics = [
        ...serverPorts.map((_, k) => `http://127.0.0.1:${metricsBase + 2 * k}/metrics`),
        ...Array.from({ length: layout.workers }, (_, k) => `http://127.0.0.1:${workersMetricsBase + 2 * k}/metrics`),
      ];
      say(`is running:
  pages and API   ${env.PUBLIC_BASE_URL}${layout.front ? `  (nginx, in front of ${layout.servers} server processes on ports ${serverPorts.join(', ')})` : ''}
  API reference   ${env.PUBLIC_BASE_URL}/api/openapi.json
  ${ownMailbox ? `mailbox         http://localhost:${mailboxHttp}  (every email the platform sends lands here)` : `mail goes to    ${process.env.SMTP_URL}`}${env.BOUNCE_SMTP_PORT ? `\n  bounces (SMTP)  ${process.env.BOUNCE_SMTP_HOST ?? '127.0.0.1'}:${env.BOUNCE_SMTP_PORT}` : ''}
  metrics         ${metrics.join('\n                  ')}
  Ctrl-C stops everything.`);
      return;
    }
  }
  say('warning: the server has not answered /readyz after 30 s; see the log above');
}

/** Runs a command in the background, its output kept for the end; answers { status, output, ms }. */
function runQuietly(cmd, args, opts = {}) {
  const t = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => resolve({ status: 1, output: `${output}${err.message}`, ms: Date.now() - t }));
    child.on('close', (code) => resolve({ status: code ?? 1, output, ms: Date.now() - t }));
  });
}

/**
 * tsc, svelte-check and eslint, one after another, in the background while the tests run (they
 * need one core; the tests spend much of their time waiting on I/O). Their output is printed
 * at the end.
 */
async function staticChecks() {
  const bin = (name) => join(ROOT, 'node_modules', '.bin', name);
  const web = { cwd: join(ROOT, 'web') };
  const steps = [
    ['tsc', bin('tsc'), ['--noEmit', '-p', '.'], {}],
    ['svelte-check', bin('svelte-check'), ['--tsconfig', './tsconfig.json', '--fail-on-warnings', '--output', 'human'], web],
    ['eslint', bin('eslint'), ['--max-warnings', '0', '.'], {}],
  ];
  const results = [];
  for (const [name, cmd, args, opts] of steps) results.push({ name, ...(await runQuietly(cmd, args, opts)) });
  return results;
}

/** Which project a test file belongs to (as vitest.config.ts says), for the timing summary. */
function projectOf(file) {
  const rel = file.slice(ROOT.length).replace(/^[\\/]/, '');
  if (rel.startsWith('tests/privacy/')) return 'privacy';
  if (rel.startsWith('tests/faults/') || rel === 'tests/e2e/scale-out.test.ts') return 'faults';
  if (rel.startsWith('tests/e2e/') || rel.startsWith('tests/bench/') || /\.platform\.test\.ts$/.test(rel)) return 'platform';
  return 'unit';
}

const seconds = (ms) => `${(ms / 1000).toFixed(0)} s`;

async function test() {
  const started = Date.now();
  const quick = process.argv.includes('--quick');
  const vitestArgs = process.argv.slice(3).filter((a) => a !== '--quick');
  const parts = [];
  const timed = async (name, fn) => {
    const t = Date.now();
    const result = await fn();
    parts.push([name, Date.now() - t]);
    return result;
  };
  checkNode();
  await timed('install', () => installPackages());
  const urls = testUrls();
  const env = { ...urls, SECRET_KEY: 'test-secret-key-test-secret-key-0123456789', DATA_KEY: '7465737420646174612d6b657920666f72207468652074657374207375697465' };
  if (!quick) env.CHROMIUM_PATH = await timed('chromium', () => ensureChromium());
  if (!quick) env.NGINX_PATH = await timed('nginx', () => ensureNginx());
  await timed('pdftotext', () => ensurePdftotext());
  if (!quick) env.PROMTOOL_PATH = await timed('promtool', () => ensurePromtool());
  generateQueryTypes(env);
  await checkRedis(env.REDIS_URL);
  await checkPostgres(env.DATABASE_URL);
  const reused = await timed('template database', () => prepareTemplate(env));
  say(
    `test template database ${new URL(env.DATABASE_URL).pathname.slice(1)} (${reused ? 'migrations unchanged: reused' : 'created and migrated'}); ` +
      `each test worker gets a copy of it and a Redis database of its own, from database ${new URL(env.REDIS_URL).pathname.slice(1) || 0} down`,
  );
  const { buildProcesses } = await import('./build-processes.mjs');
  await timed('build', async () => {
    if (!quick) buildWeb();
    await buildProcesses();
  });

  let checks = null;
  if (quick) {
    say('quick run: in-process tests only. Skipped: type checks and lint, the browser, platform, fault and privacy projects (`npm test` runs them all)');
  } else {
    say('type checking (tsc, svelte-check) and linting (eslint) in the background...');
    checks = staticChecks();
  }

  say(`running the test suite (vitest${quick ? ', unit project' : ''})...`);
  mkdirSync(DATA, { recursive: true });
  const report = join(DATA, 'vitest-report.json');
  const bin = (name) => join(ROOT, 'node_modules', '.bin', name);
  const vitestStart = Date.now();
  const status = run(
    bin('vitest'),
    ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...(quick ? ['--project', 'unit'] : []), ...vitestArgs],
    { env, allowFail: true },
  );
  parts.push(['vitest', Date.now() - vitestStart]);

  let checksFailed = false;
  if (checks) {
    const t = Date.now();
    const results = await checks;
    if (Date.now() - t > 1000) parts.push(['static checks, after the tests', Date.now() - t]);
    for (const r of results) {
      if (r.status !== 0) {
        checksFailed = true;
        console.log(r.output);
        console.error(`\x1b[31mchorus: ${r.name} failed\x1b[0m`);
      }
    }
    say(`static checks: ${results.map((r) => `${r.name} ${r.status === 0 ? 'passed' : 'FAILED'} (${seconds(r.ms)})`).join(', ')}`);
  }

  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    // wall time of each project: from its first file's start to its last file's end
    const spans = {};
    for (const f of r.testResults ?? []) {
      const p = projectOf(f.name);
      const s = (spans[p] ??= { start: Infinity, end: 0, files: 0 });
      s.start = Math.min(s.start, f.startTime);
      s.end = Math.max(s.end, f.endTime);
      s.files++;
    }
    const projects = Object.entries(spans).map(([p, s]) => `${p} ${seconds(s.end - s.start)} (${s.files} files)`);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests ?? 0)} skipped`);
    if (projects.length) say(`projects (wall time, several at once): ${projects.join(', ')}`);
  }
  say(`times: ${parts.map(([n, ms]) => `${n} ${seconds(ms)}`).join(', ')}; whole run ${seconds(Date.now() - started)}`);
  process.exit(status !== 0 ? status : checksFailed ? 1 : 0);
}

/** The benchmark's own database and Redis database, never those of `npm start` or `npm test`. */
function benchUrls() {
  const db = new URL(process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus');
  if (!process.env.BENCH_DATABASE_URL) db.pathname = `/${decodeURIComponent(db.pathname.slice(1) || 'chorus')}_bench`;
  const redis = new URL(process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  if (!process.env.BENCH_REDIS_URL) redis.pathname = '/4';
  return { DATABASE_URL: db.toString(), REDIS_URL: redis.toString() };
}

async function bench() {
  checkNode();
  installPackages();
  const urls = benchUrls();
  const env = {
    ...urls,
    // the benchmark measures through deploy/nginx too, as production runs
    NGINX_PATH: ensureNginx(),
    SECRET_KEY: process.env.SECRET_KEY ?? 'bench-secret-key-bench-secret-key-0123456789',
    DATA_KEY: process.env.DATA_KEY ?? randomBytes(32).toString('hex'),
    // the benchmark's mail is signed as production's is, with a key of its own
    DKIM_PRIVATE_KEY: process.env.DKIM_PRIVATE_KEY ?? generateDkimKey(),
  };
  generateQueryTypes(env);
  await checkRedis(env.REDIS_URL);
  await checkPostgres(env.DATABASE_URL);
  say(`bench database ${new URL(env.DATABASE_URL).pathname.slice(1)} (recreated), Redis database ${new URL(env.REDIS_URL).pathname.slice(1) || 0} (flushed)`);
  await recreateDatabase(env.DATABASE_URL);
  await flushRedis(env.REDIS_URL);
  migrate(env);
  buildWeb();
  // the BENCH_* settings (durations, sizes) pass through from the caller's environment
  const status = run('node', ['--import', 'tsx', 'tests/bench/main.ts', ...process.argv.slice(3)], { env: { ...process.env, ...env }, allowFail: true });
  process.exit(status);
}

/**
 * `npm run build`: what a deployment runs from its builds (docs/operations.md): the query types
 * and Prisma Client, the pages (web/build) and the three processes (server/build), each only when
 * its sources changed. No database, Redis or seed: the systemd units migrate and start.
 */
async function build() {
  checkNode();
  installPackages();
  // prisma generate reads no database, but refuses to run without DATABASE_URL set
  generateQueryTypes({ DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus' });
  buildWeb();
  const { buildProcesses } = await import('./build-processes.mjs');
  const builds = await buildProcesses();
  say(`built: web/build and\n  ${Object.values(builds).join('\n  ')}`);
}

/**
 * `npm run keys -- status | seal | rotate | rewrap` (server/bin/keys.ts): the keys that seal
 * personal data, for the database `npm start` uses (or DATABASE_URL) and the same key it uses.
 */
async function keys() {
  checkNode();
  installPackages();
  const env = { DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus', SECRET_KEY: secretKey(), ...dataKey() };
  generateQueryTypes(env);
  const status = run('node', ['--import', 'tsx', 'server/bin/keys.ts', ...process.argv.slice(3)], { env, allowFail: true });
  process.exit(status);
}

const commands = { start, test, bench, build, keys };
if (!commands[command]) fail(`unknown command "${command}" (use start, test, bench, build or keys)`);
commands[command]().catch((err) => fail(err?.stack ?? String(err)));

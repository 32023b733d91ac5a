// The ceilings, measured on this machine in this run: what the same load generator gets from
// a Fastify hello-world (H), what PostgreSQL takes as raw INSERTs into the real signatures
// table, and what nodemailer pushes into an SMTP sink. Every target is a ratio to one of these.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { NGINX_BIN } from '../../server/bin/nginx-config.mjs';
import { freePort } from '../support/platform.ts';
import { composeLetter } from '../../server/src/letter/letter.service.ts';
import { renderMemberLetter } from '../../server/src/letter/member-letter.ts';
import { generateDkimKey } from '../../server/bin/dkim-key.mjs';
import { createMailer, mailSigning } from '../../server/src/mail/mailer.ts';
import { emailDomainIndex, sealName, unwrapDataKey } from '../../server/src/privacy/personal-data.ts';
import { newSealedReceipt, newSealedSupporter } from '../../server/src/privacy/sealed-rows.ts';
import { startChild, type Child } from './child.ts';
import { fmt, progress, runLoad, type LoadResult } from './load.ts';

/** A body of the same size and shape as a signature, so H parses what the server parses. */
export const HELLO_BODY = JSON.stringify({
  firstName: 'Ana',
  lastName: 'López',
  email: 'ana.lopez.000001@example.org',
  country: 'MX',
  consentCount: true,
  consentNamed: true,
});

export async function measureHello(opts: { connections: number; seconds: number; label?: string }): Promise<LoadResult> {
  const hello = await startChild('./hello.ts');
  try {
    return await runLoad({
      label: opts.label ?? 'ceiling H: hello-world POST',
      url: `http://127.0.0.1:${hello.port}`,
      serverPid: hello.proc.pid,
      connections: opts.connections,
      seconds: opts.seconds,
      requests: [{ method: 'POST', path: '/hello', headers: { 'content-type': 'application/json' }, body: () => HELLO_BODY }],
    });
  } finally {
    await hello.stop();
  }
}

/**
 * What nginx and this load generator get, on this machine, for a page of the same bytes served
 * as a file: no proxy, no cache lookup, no Chorus. No page read through nginx can beat it, so
 * it tells how much of a gap to H is the size of the page rather than the platform.
 */
export async function measureStaticPage(opts: { body: Buffer; connections: number; seconds: number; workerProcesses: number; label?: string }): Promise<LoadResult> {
  const dir = join(process.cwd(), '.data', 'bench-static-nginx');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'root'), { recursive: true });
  writeFileSync(join(dir, 'root', 'page.html'), opts.body);
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off; worker_processes ${opts.workerProcesses}; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http { access_log off; sendfile on; keepalive_requests 100000; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${dir}/root; default_type text/html; } }
`,
  );
  const nginx = spawn(process.env.NGINX_PATH || NGINX_BIN, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: 'ignore' });
  try {
    const until = Date.now() + 10_000;
    while (!(await fetch(`http://127.0.0.1:${port}/page.html`).then((r) => r.ok, () => false))) {
      if (Date.now() > until) throw new Error('the static nginx did not answer');
      await new Promise((r) => setTimeout(r, 50));
    }
    return await runLoad({
      label: opts.label ?? 'ceiling: nginx, a static file of the page',
      url: `http://127.0.0.1:${port}`,
      connections: opts.connections,
      seconds: opts.seconds,
      requests: [{ method: 'GET', path: '/page.html' }],
    });
  } finally {
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx.once('exit', r));
  }
}

export interface InsertCeiling {
  rowsPerSecond: number;
  rows: number;
  seconds: number;
  clients: number;
  batch: number;
}

/** The ceiling's supporters' addresses are on a domain of their own: found by its blind index. */
const CEILING_DOMAIN = 'ceiling.bench.example.org';

/**
 * What a sign-up of each ceiling supporter writes sealed, as the writer seals it under the
 * supporter's data key: the name, and a receipt code. Made once per process (about 50 µs a
 * supporter), before any measuring, so the measured loop only sends bytes.
 */
let ceilingSigners: { ids: string[]; names: Buffer[]; receipts: Buffer[] } | null = null;

async function ceilingSupporters(pool: pg.Pool, supporters: number): Promise<{ ids: string[]; names: Buffer[]; receipts: Buffer[] }> {
  const domain = emailDomainIndex(`x@${CEILING_DOMAIN}`);
  const { rows: existing } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM supporters WHERE email_domain_index = $1`, [domain]);
  if (existing[0]!.n < supporters) {
    // sealed as the writer stores a supporter: a data key of their own, the address and name under it
    for (let from = 0; from < supporters; from += 10_000) {
      const rows = Array.from({ length: Math.min(supporters, from + 10_000) - from }, (_, i) => newSealedSupporter(`ceiling-${from + i + 1}@${CEILING_DOMAIN}`, 'Ana', 'López'));
      await pool.query(
        `INSERT INTO supporters (id, email_index, email_domain_index, data_key, email, name, country)
         SELECT id, ix, dx, k, e, n, 'MX' FROM unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::bytea[], $5::bytea[], $6::bytea[]) AS t(id, ix, dx, k, e, n)
         ON CONFLICT DO NOTHING`,
        [rows.map((r) => r.id), rows.map((r) => r.email_index), rows.map((r) => r.email_domain_index), rows.map((r) => r.data_key), rows.map((r) => r.email), rows.map((r) => r.name)],
      );
    }
    ceilingSigners = null;
  }
  if (ceilingSigners?.ids.length !== supporters) {
    const { rows } = await pool.query<{ id: string; data_key: Buffer }>(`SELECT id, data_key FROM supporters WHERE email_domain_index = $1 ORDER BY id`, [domain]);
    const ids: string[] = [];
    const names: Buffer[] = [];
    const receipts: Buffer[] = [];
    for (const r of rows) {
      const key = unwrapDataKey('supporter', r.id, r.data_key);
      ids.push(r.id);
      names.push(sealName(key, r.id, 'Ana', 'López')!);
      receipts.push(newSealedReceipt(key, r.id).receipt_sealed);
    }
    ceilingSigners = { ids, names, receipts };
  }
  return ceilingSigners;
}

/** A receipt's leaf is a keyed hash (32 bytes) and unique: to PostgreSQL, as random bytes are. */
const LEAF = 32;

/**
 * Raw INSERT into `signatures`, prepared, from `clients` connections,
 * `batch` rows per statement (1 = single-row). Supporters and actions are made first so the
 * foreign keys hold; each row is a new (action, supporter) pair. Each row carries what the
 * writer's rows carry sealed (bytea): the sign-up's name and receipt code, sealed under the
 * supporter's data key, and the receipt's leaf (under its unique index).
 */
export async function measureInserts(
  databaseUrl: string,
  opts: { clients: number; batch: number; seconds: number; label: string },
): Promise<InsertCeiling> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: opts.clients + 1 });
  try {
    const supporters = 50_000;
    const signers = await ceilingSupporters(pool, supporters);
    const supporterIds = signers.ids;
    const { rows: campaign } = await pool.query<{ id: string }>(
      `INSERT INTO campaigns (id, slug) VALUES (gen_random_uuid(), 'bench-ceiling') ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id`,
    );
    let actionNo = 0;
    const newAction = async () => {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO actions (id, slug, campaign_id, kind, status, updated_at) VALUES (gen_random_uuid(), $1, $2, 'PETITION', 'DRAFT', now()) RETURNING id`,
        [`bench-ceiling-${opts.batch}-${Date.now()}-${actionNo++}`, campaign[0]!.id],
      );
      return rows[0]!.id;
    };

    // pairs are handed out from a shared cursor: (action k, supporter i)
    let action = await newAction();
    let next = 0;
    let refill: Promise<void> | null = null;
    const take = async (n: number): Promise<{ action: string; ids: string[]; names: Buffer[]; receipts: Buffer[]; leaves: Buffer[] }> => {
      while (next + n > supporterIds.length) {
        if (!refill) {
          refill = newAction().then((id) => {
            action = id;
            next = 0;
            refill = null;
          });
        }
        await refill;
      }
      const ids = supporterIds.slice(next, next + n);
      const names = signers.names.slice(next, next + n);
      const receipts = signers.receipts.slice(next, next + n);
      next += n;
      const random = randomBytes(LEAF * n);
      const leaves = Array.from({ length: n }, (_, i) => random.subarray(i * LEAF, (i + 1) * LEAF));
      return { action, ids, names, receipts, leaves };
    };

    const single = {
      name: 'ceiling-insert-1',
      text: `INSERT INTO signatures (action_id, supporter_id, country, pending_name, receipt_leaf, receipt_sealed) VALUES ($1, $2, 'MX', $3, $4, $5)`,
    };
    const multi = {
      name: 'ceiling-insert-n',
      text: `INSERT INTO signatures (action_id, supporter_id, country, pending_name, receipt_leaf, receipt_sealed)
             SELECT $1, s, 'MX', n, l, r FROM unnest($2::uuid[], $3::bytea[], $4::bytea[], $5::bytea[]) AS t(s, n, l, r)`,
    };
    let rows = 0;
    let secondRows = 0;
    const started = Date.now();
    const until = started + opts.seconds * 1000;
    const ticker = setInterval(() => {
      progress(`[${opts.label}] ${String(Math.round((Date.now() - started) / 1000)).padStart(3)}/${opts.seconds} s  ${fmt(secondRows).padStart(7)} rows/s`);
      secondRows = 0;
    }, 1000);
    const worker = async () => {
      const client = await pool.connect();
      try {
        while (Date.now() < until) {
          const { action: a, ids, names, receipts, leaves } = await take(opts.batch);
          if (opts.batch === 1) await client.query({ ...single, values: [a, ids[0], names[0], leaves[0], receipts[0]] });
          else await client.query({ ...multi, values: [a, ids, names, leaves, receipts] });
          rows += ids.length;
          secondRows += ids.length;
        }
      } finally {
        client.release();
      }
    };
    await Promise.all(Array.from({ length: opts.clients }, worker));
    clearInterval(ticker);
    const seconds = (Date.now() - started) / 1000;
    return { rowsPerSecond: rows / seconds, rows, seconds, clients: opts.clients, batch: opts.batch };
  } finally {
    await pool.end();
  }
}

export interface SmtpCeiling {
  messagesPerSecond: number;
  messages: number;
  seconds: number;
  bytesPerMessage: number;
  /** CPU time of the sending process per message, ms (the sink's is apart) */
  cpuMsPerMessage: number;
}

/**
 * A letter as the platform sends it in the "every N" scenario, rendered once by the letter's
 * own template from content shaped like the bench's fixtures (data.ts): 1,000 signatures of
 * which a third may be named and one in ten wrote their own letter, so about 330 names and
 * the 20 member letters a letter carries at most. The raw rate must move the same bytes per
 * message as the platform does, or the ratio compares a 4 KB message with a 30 KB one.
 */
let rendered: ReturnType<typeof composeLetter> | undefined;
function benchLetter() {
  if (rendered) return rendered;
  const signatures = 1_000;
  const named = Array.from({ length: Math.round(signatures / 3) }, (_, i) => `Signer${i + 1} Benchmark`);
  const signer = (i: number) => ({ firstName: `Signer${i}`, lastName: 'Benchmark', country: 'FR', namedDisclosure: i % 3 === 0, namedToOwnCountry: false });
  const memberLetters = Array.from({ length: 20 }, (_, i) =>
    renderMemberLetter(
      'en',
      { country: 'MX', salutation: 'Dear Minister', language: 'en', title: 'Minister' },
      { subject: 'Independent forensic services', body: 'I ask you to act on this: the families of victims deserve protection.' },
      signer(i),
    ),
  );
  rendered = composeLetter({
    text: {
      locale: 'en',
      title: 'Benchmark: many',
      letterSubject: 'Independent forensic services',
      officialRequest: 'We ask you to guarantee the independence of the forensic services that examine victims of torture. '.repeat(10),
    },
    salutation: 'Dear Minister',
    target: { language: 'en', title: 'Minister' },
    newCount: signatures,
    totalCount: 100_000,
    countries: ['MX', 'PH', 'UZ', 'KZ', 'FR', 'ES', 'GB', 'DE', 'BR', 'KE', 'IN', 'US', 'RU', 'NG', 'AR', 'CA', 'IT', 'PL', 'ZA', 'JP'],
    names: named,
    memberLetters,
    organisation: 'Chorus',
    packetUrl: `http://127.0.0.1:3000/packet/${'x'.repeat(120)}`,
  });
  return rendered;
}

/** A letter-sized message (what a letter of the "every N" scenario weighs), sent as text and HTML. */
export function letterSizedMail(i: number) {
  const letter = benchLetter();
  return {
    from: 'Chorus <actions@chorus.example.org>',
    to: `minister-${i % 20}@ministry${i % 20}.gov.example`,
    envelope: { from: `bounce+${i}@chorus.example.org`, to: `minister-${i % 20}@ministry${i % 20}.gov.example` },
    subject: `${letter.subject} ${i}`,
    text: letter.text,
    html: letter.html,
    messageId: `<bench.${i}.${Date.now()}@chorus.example.org>`,
    headers: { 'X-Chorus-Letter': String(i) },
  };
}

/** nodemailer, pooled as the workers' mailer is (5 connections) and DKIM-signing as it does, into the sink, `inFlight` at a time. */
export async function measureSmtp(sink: Child, opts: { seconds: number; inFlight: number; label: string }): Promise<SmtpCeiling> {
  const dkim = mailSigning({ MAIL_FROM: 'Chorus <actions@chorus.example.org>', DKIM_SELECTOR: 'bench', DKIM_PRIVATE_KEY: generateDkimKey() });
  const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${sink.port}?tls=off`, dkim });
  await sink.ask('reset');
  let sent = 0;
  let secondSent = 0;
  const started = Date.now();
  const until = started + opts.seconds * 1000;
  const ticker = setInterval(() => {
    progress(`[${opts.label}] ${String(Math.round((Date.now() - started) / 1000)).padStart(3)}/${opts.seconds} s  ${fmt(secondSent).padStart(7)} messages/s`);
    secondSent = 0;
  }, 1000);
  let i = 0;
  const cpuBefore = process.cpuUsage();
  const sender = async () => {
    while (Date.now() < until) {
      await mailer.sendMail(letterSizedMail(i++));
      sent++;
      secondSent++;
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.inFlight }, sender));
  } finally {
    clearInterval(ticker);
    mailer.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // the bytes the sink read per message (headers and both parts, as encoded on the wire)
  const c = await sink.ask<{ letters: number; letterBytes: number }>('count');
  return { messagesPerSecond: sent / seconds, messages: sent, seconds, bytesPerMessage: c.letters ? c.letterBytes / c.letters : 0, cpuMsPerMessage: sent ? (cpu.user + cpu.system) / 1000 / sent : 0 };
}

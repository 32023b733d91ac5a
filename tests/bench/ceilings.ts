// The ceilings, measured on this machine in this run: what the same load generator gets from
// a Fastify hello-world (H), what PostgreSQL takes as raw INSERTs into the real signatures
// table, and what nodemailer pushes into an SMTP sink. Every target is a ratio to one of these.
import pg from 'pg';
import { createMailer } from '../../server/src/mail/mailer.ts';
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

export interface InsertCeiling {
  rowsPerSecond: number;
  rows: number;
  seconds: number;
  clients: number;
  batch: number;
}

/**
 * Raw INSERT ... ON CONFLICT DO NOTHING into `signatures`, prepared, from `clients` connections,
 * `batch` rows per statement (1 = single-row). Supporters and actions are made first so the
 * foreign keys hold; each row is a new (action, supporter) pair.
 */
export async function measureInserts(
  databaseUrl: string,
  opts: { clients: number; batch: number; seconds: number; label: string },
): Promise<InsertCeiling> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: opts.clients + 1 });
  try {
    const supporters = 50_000;
    const { rows: existing } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM supporters WHERE canonical_email LIKE 'ceiling-%'`);
    if (existing[0]!.n < supporters) {
      await pool.query(
        `INSERT INTO supporters (canonical_email, email, first_name, last_name, country)
         SELECT 'ceiling-' || g || '@example.org', 'ceiling-' || g || '@example.org', 'Ana', 'López', 'MX'
         FROM generate_series(1, $1) g ON CONFLICT DO NOTHING`,
        [supporters],
      );
    }
    const { rows: sup } = await pool.query<{ id: string }>(`SELECT id FROM supporters WHERE canonical_email LIKE 'ceiling-%' ORDER BY id`);
    const supporterIds = sup.map((r) => r.id);
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
    const take = async (n: number): Promise<{ action: string; ids: string[] }> => {
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
      next += n;
      return { action, ids };
    };

    const single = {
      name: 'ceiling-insert-1',
      text: `INSERT INTO signatures (action_id, supporter_id, country, confirmation_sent_at) VALUES ($1, $2, 'MX', now())
             ON CONFLICT (action_id, supporter_id) DO NOTHING`,
    };
    const multi = {
      name: 'ceiling-insert-n',
      text: `INSERT INTO signatures (action_id, supporter_id, country, confirmation_sent_at)
             SELECT $1, s, 'MX', now() FROM unnest($2::uuid[]) AS s
             ON CONFLICT (action_id, supporter_id) DO NOTHING`,
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
          const { action: a, ids } = await take(opts.batch);
          if (opts.batch === 1) await client.query({ ...single, values: [a, ids[0]] });
          else await client.query({ ...multi, values: [a, ids] });
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
}

/** A letter-sized message (about what a digest letter weighs), sent as text and HTML. */
export function letterSizedMail(i: number) {
  const para = 'We write to ask for an independent investigation of every complaint of torture. '.repeat(12);
  return {
    from: 'Chorus <actions@chorus.example.org>',
    to: `minister-${i % 20}@gov.example`,
    subject: `Letter ${i}: independent forensic services`,
    text: `Dear Minister,\n\n${para}\n\n${para}\n\nChorus`,
    html: `<p>Dear Minister,</p><p>${para}</p><p>${para}</p><p>Chorus</p>`,
    messageId: `<bench.${i}.${Date.now()}@chorus.example.org>`,
  };
}

/** nodemailer, pooled as the workers' mailer is (5 connections), into the sink, `inFlight` at a time. */
export async function measureSmtp(sink: Child, opts: { seconds: number; inFlight: number; label: string }): Promise<SmtpCeiling> {
  const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${sink.port}?tls=off` });
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
  const sample = letterSizedMail(0);
  return { messagesPerSecond: sent / seconds, messages: sent, seconds, bytesPerMessage: sample.text.length + sample.html.length };
}

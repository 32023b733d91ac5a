// Bounces. Every letter leaves with its own return path (VERP: bounces+<letter id>@domain),
// so a delivery status notification names the letter it is about even when the receiving
// server mangles the rest. A permanent failure marks the letter BOUNCED; repeated bounces
// mark the target's contact as STALE, for staff to verify.
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';
import { emitLetterEvent } from '../webhook/webhook.service.ts';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const VERP = new RegExp(`^bounces\\+(${UUID})@`, 'i');
const LETTER_MESSAGE_ID = new RegExp(`<letter\\.(${UUID})@`, 'i');

/** Contacts whose letters bounce this often are flagged for staff to verify. */
export const STALE_AFTER_BOUNCES = 3;

export function bounceAddress(letterId: string, domain: string): string {
  return `bounces+${letterId}@${domain}`;
}

export interface BounceReport {
  letterId: string | null;
  /** the enhanced status code, e.g. 5.1.1 */
  status: string | null;
  permanent: boolean;
  diagnostic: string | null;
}

/** Reads a delivery status notification (RFC 3464), or a plainer bounce, for what it says about which letter. */
export async function parseBounce(raw: string | Buffer, recipients: readonly string[]): Promise<BounceReport> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  let letterId = recipients.map((r) => VERP.exec(r)?.[1]).find(Boolean) ?? null;
  if (!letterId) letterId = LETTER_MESSAGE_ID.exec(text)?.[1] ?? null;

  // mailparser and smtp-server are loaded where bounces are read (the workers), not in every
  // process that only needs bounceAddress (the server, through letter.service.ts)
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(text).catch(() => null);
  const reportText = [text, ...(parsed?.attachments ?? []).map((a) => a.content.toString('utf8'))].join('\n');
  const status = /^Status:\s*([245]\.\d{1,3}\.\d{1,3})/im.exec(reportText)?.[1] ?? null;
  const action = /^Action:\s*(\w+)/im.exec(reportText)?.[1]?.toLowerCase() ?? null;
  const diagnostic = /^Diagnostic-Code:\s*(.+)$/im.exec(reportText)?.[1]?.trim().slice(0, 500) ?? null;
  // "delayed" and 4.x.x are warnings: the receiving side is still trying. Mail to a letter's
  // return path that carries no report at all is taken as a failure notice.
  const warning = action === 'delayed' || (status?.startsWith('4.') ?? false);
  const failed = action === 'failed' || (status?.startsWith('5.') ?? false) || (status === null && action === null);
  return { letterId: letterId?.toLowerCase() ?? null, status, permanent: letterId !== null && failed && !warning, diagnostic };
}

/** Marks a SENT letter BOUNCED once, and counts the bounce against its target. */
export async function recordBounce(pool: pg.Pool, report: BounceReport, now: Date): Promise<'recorded' | 'ignored'> {
  if (!report.letterId || !report.permanent) return 'ignored';
  const reason = ['bounced', report.status, report.diagnostic].filter(Boolean).join(': ').slice(0, 1000);
  const rows = await inTransaction(pool, async (tx) => {
    const bounced = await tx.query<{ target_id: string }>(
      `UPDATE letters SET status = 'BOUNCED', bounced_at = $2, last_error = $3
       WHERE id = $1 AND status = 'SENT' RETURNING target_id`,
      [report.letterId, now, reason],
    );
    // letter.bounced for webhooks, in the same transaction as the state change
    if (bounced.rows.length > 0) await emitLetterEvent(tx, 'letter.bounced', report.letterId!);
    return bounced.rows;
  });
  if (rows.length === 0) return 'ignored';
  await pool.query(
    `UPDATE targets SET bounce_count = bounce_count + 1,
            contact_status = CASE WHEN bounce_count + 1 >= $2 THEN 'STALE'::"ContactStatus" ELSE contact_status END
     WHERE id = $1`,
    [rows[0]!.target_id, STALE_AFTER_BOUNCES],
  );
  return 'recorded';
}

export interface BounceServer {
  port: number;
  close(): Promise<void>;
}

/** An SMTP endpoint for bounces: accepts mail only for bounces+<id>@ addresses and records what it reads. */
export async function startBounceServer(opts: {
  port: number;
  host?: string;
  pool: pg.Pool;
  clock: () => Date;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}): Promise<BounceServer> {
  const { SMTPServer } = await import('smtp-server');
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: 2 * 1024 * 1024,
    logger: false,
    onRcptTo(address, _session, callback) {
      if (VERP.test(address.address)) return callback();
      return callback(Object.assign(new Error('550 5.1.1 this server takes bounces only'), { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        parseBounce(Buffer.concat(chunks), recipients)
          .then((report) => recordBounce(opts.pool, report, opts.clock()).then((outcome) => ({ report, outcome })))
          .then(({ report, outcome }) => {
            opts.log.info({ letterId: report.letterId, status: report.status, outcome }, 'bounce received');
            callback();
          })
          .catch((err: unknown) => {
            opts.log.warn({ err: String(err) }, 'bounce could not be recorded');
            // a 4xx asks the sender to try again later, so nothing is lost
            callback(Object.assign(new Error('451 4.3.0 try again later'), { responseCode: 451 }));
          });
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  server.on('error', (err) => opts.log.warn({ err: err.message }, 'bounce server error'));
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

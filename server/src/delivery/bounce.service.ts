// Bounces. Every letter leaves with its own return path (VERP), so a delivery status
// notification names the letter it is about even when the receiving server mangles the rest:
//
//   bounces+<letter id>.<mac>@domain     mac = first 16 hex digits of HMAC-SHA256(SECRET_KEY, letter id)
//
// The letter id is no secret (it is in the letter's Message-ID and headers, and on the public
// ledger), so the MAC is what makes a bounce ours: only a server that received the letter has
// seen its return path. A report to a return path without a valid MAC, or one whose original
// Message-ID names another letter, is ignored and logged (without addresses). Letters sent
// before return paths carried a MAC (`bounces+<letter id>@`) are ignored the same way: their
// bounces cannot be told from forgeries. Receiving servers give up within about five days, so
// only letters sent in the days before the upgrade lose their bounce; they stay SENT.
//
// A permanent failure marks the letter BOUNCED; repeated bounces mark the target's contact as
// STALE, for staff to verify.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../db/db.ts';
import { emitLetterEvent } from '../webhook/webhook.service.ts';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** a return path, signed or not (the local part is matched case-insensitively: some servers fold it) */
const VERP = new RegExp(`^bounces\\+(${UUID})(?:\\.([0-9a-z]{1,64}))?@`, 'i');
const LETTER_MESSAGE_ID = new RegExp(`<letter\\.(${UUID})@`, 'gi');
const MAC_HEX_DIGITS = 16;

/** Contacts whose letters bounce this often are flagged for staff to verify. */
export const STALE_AFTER_BOUNCES = 3;

function returnPathMac(secret: string, letterId: string): string {
  return createHmac('sha256', secret).update(`chorus return path\n${letterId.toLowerCase()}`).digest('hex').slice(0, MAC_HEX_DIGITS);
}

/** The return path of a letter: names it, with a MAC only Chorus can make. */
export function bounceAddress(letterId: string, domain: string, secret: string): string {
  return `bounces+${letterId.toLowerCase()}.${returnPathMac(secret, letterId)}@${domain}`;
}

export type ReturnPath = { letterId: string; signed: true } | { letterId: string; signed: false; reason: 'unsigned' | 'bad_mac' };

/** The letter a return path names, and whether its MAC is ours; null when it is not a return path at all. */
export function readReturnPath(address: string, secret: string): ReturnPath | null {
  const m = VERP.exec(address);
  if (!m) return null;
  const letterId = m[1]!.toLowerCase();
  if (m[2] === undefined) return { letterId, signed: false, reason: 'unsigned' };
  const given = Buffer.from(m[2].toLowerCase());
  const expected = Buffer.from(returnPathMac(secret, letterId));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { letterId, signed: false, reason: 'bad_mac' };
  return { letterId, signed: true };
}

export interface BounceReport {
  /** the letter the return path names (signed or not: for the log) */
  letterId: string | null;
  /** the enhanced status code, e.g. 5.1.1 */
  status: string | null;
  permanent: boolean;
  diagnostic: string | null;
  /** why this report is not taken as a bounce of that letter; null when it is ours */
  ignored: null | 'not_a_return_path' | 'unsigned' | 'bad_mac' | 'message_id_mismatch';
}

/**
 * Reads a delivery status notification (RFC 3464), or a plainer bounce, for what it says about
 * which letter. Only a return path with a valid MAC names a letter; a report whose original
 * headers carry the Message-ID of another letter is ignored too.
 */
export async function parseBounce(raw: string | Buffer, recipients: readonly string[], secret: string): Promise<BounceReport> {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const paths = recipients.map((r) => readReturnPath(r, secret)).filter((p): p is ReturnPath => p !== null);
  const path = paths.find((p) => p.signed) ?? paths[0] ?? null;

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

  let ignored: BounceReport['ignored'] = null;
  if (!path) ignored = 'not_a_return_path';
  else if (!path.signed) ignored = path.reason;
  else if ([...reportText.matchAll(LETTER_MESSAGE_ID)].some((m) => m[1]!.toLowerCase() !== path.letterId)) ignored = 'message_id_mismatch';
  const letterId = path?.letterId ?? null;
  return { letterId, status, permanent: ignored === null && failed && !warning, diagnostic, ignored };
}

/** Marks a SENT letter BOUNCED once, and counts the bounce against its target. */
export async function recordBounce(pool: pg.Pool, report: BounceReport, now: Date): Promise<'recorded' | 'ignored'> {
  if (!report.letterId || !report.permanent || report.ignored) return 'ignored';
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

/**
 * An SMTP endpoint for bounces: accepts mail only for bounces+<id>...@ addresses and records
 * what it reads. A return path whose MAC is missing or wrong is accepted and ignored (logged),
 * so a forger learns nothing from the answer.
 */
export async function startBounceServer(opts: {
  port: number;
  host?: string;
  pool: pg.Pool;
  /** SECRET_KEY: the key of the return paths' MACs */
  secret: string;
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
        parseBounce(Buffer.concat(chunks), recipients, opts.secret)
          .then((report) => recordBounce(opts.pool, report, opts.clock()).then((outcome) => ({ report, outcome })))
          .then(({ report, outcome }) => {
            // ids and codes only: no addresses, no diagnostic text (it may quote one)
            if (report.ignored) opts.log.warn({ letterId: report.letterId, reason: report.ignored }, 'bounce ignored: not a report about one of our letters');
            else opts.log.info({ letterId: report.letterId, status: report.status, outcome }, 'bounce received');
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

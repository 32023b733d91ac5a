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
// Only a delivery status notification (RFC 3464: a top-level multipart/report with
// report-type=delivery-status and its message/delivery-status part) is a bounce, and only a
// permanent failure in it (a recipient with Action: failed and a 5.x.x Status) marks the letter
// BOUNCED; repeated bounces mark the target's contact as STALE, for staff to verify. Anything
// else that reaches a return path is not a bounce, however it reads: an out-of-office or other
// auto-reply (RFC 3834: Auto-Submitted, X-Autoreply, Precedence: auto_reply, "Automatic reply:"
// subjects ...), a person's reply, a read receipt. It is ignored and logged with the letter id
// and what it was, nothing else. (Officials answer through the packet page, not by mail.)
import { createHmac, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type pg from 'pg';
import { ContactStatus, LetterStatus, inTransaction, qb } from '../db/db.ts';
import { emitLetterEvent } from '../webhook/webhook.service.ts';
import { bouncesReceived } from '../shared/metrics.ts';

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
  /**
   * why this is not taken as a bounce of that letter; null when it is a delivery status
   * notification about it (which bounces it only if `permanent`). `auto_reply` and
   * `not_a_report` (a person's reply, a read receipt, anything else) reached a valid return path.
   */
  ignored: null | 'not_a_return_path' | 'unsigned' | 'bad_mac' | 'message_id_mismatch' | 'auto_reply' | 'not_a_report';
}

/** Subjects of out-of-office and other automatic replies, in the languages officials write in (and a few more). */
const AUTO_REPLY_SUBJECT =
  /^\s*(?:(?:re|aw|tr|fw|rv)\s*:\s*)?(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response)|autoreply|out of (?:the )?office|abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|r[ée]ponse en absence|absence du bureau|respuesta autom[áa]tica|fuera de la oficina|автоответ|автоматический ответ|risposta automatica|resposta autom[áa]tica)/i;

/** Header names that only automatic replies carry (any value), beside Auto-Submitted and Precedence. */
const AUTO_REPLY_HEADERS = ['x-autoreply', 'x-autorespond', 'x-autoreply-from', 'x-mail-autoreply', 'x-auto-response-suppress'];

type ParsedHeaders = Map<string, unknown>;

function headerText(headers: ParsedHeaders, name: string): string | null {
  const v = headers.get(name);
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && 'value' in v && typeof (v as { value: unknown }).value === 'string') return (v as { value: string }).value;
  return String(v);
}

/** An automatic reply (RFC 3834 and the headers and subjects auto-responders use in practice). */
export function isAutoReply(headers: ParsedHeaders, subject: string | undefined): boolean {
  const autoSubmitted = headerText(headers, 'auto-submitted')?.split(';')[0]?.trim().toLowerCase();
  if (autoSubmitted && autoSubmitted !== 'no') return true;
  if (AUTO_REPLY_HEADERS.some((h) => headers.has(h))) return true;
  const precedence = headerText(headers, 'precedence')?.trim().toLowerCase();
  if (precedence && ['auto_reply', 'auto-reply', 'bulk', 'junk'].includes(precedence)) return true;
  return AUTO_REPLY_SUBJECT.test(subject ?? '');
}

/** One recipient's fields of a delivery status notification. */
interface RecipientStatus {
  action: string | null;
  status: string | null;
  diagnostic: string | null;
}

/**
 * The per-recipient fields of the message/delivery-status part of a top-level
 * multipart/report; report-type=delivery-status (RFC 3462, RFC 3464), or null when the
 * message is not one. Only that part is read: a status line quoted anywhere else (a person's
 * reply, an auto-reply quoting a bounce) counts for nothing.
 */
export function deliveryStatusOf(raw: string): RecipientStatus[] | null {
  const split = /\r?\n\r?\n/.exec(raw);
  if (!split) return null;
  const top = unfoldHeaders(raw.slice(0, split.index));
  const ct = contentType(top);
  if (ct?.type !== 'multipart/report') return null;
  const reportType = ct.params['report-type']?.toLowerCase();
  if (reportType !== 'delivery-status' && reportType !== 'global-delivery-status') return null;
  const boundary = ct.params.boundary;
  if (!boundary) return null;
  const body = raw.slice(split.index + split[0].length);
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | null = null;
  for (const line of body.split(/\r?\n/)) {
    if (line.trimEnd() === `${delimiter}--`) break;
    if (line.trimEnd() === delimiter) {
      if (current) parts.push(current.join('\n'));
      current = [];
    } else current?.push(line);
  }
  if (current) parts.push(current.join('\n'));
  for (const part of parts) {
    const cut = part.indexOf('\n\n');
    const headers = unfoldHeaders(cut < 0 ? part : part.slice(0, cut));
    const type = contentType(headers)?.type;
    if (type !== 'message/delivery-status' && type !== 'message/global-delivery-status') continue;
    const encoding = /^content-transfer-encoding:\s*([\w-]+)/im.exec(headers)?.[1]?.toLowerCase();
    const content = decodeBody(cut < 0 ? '' : part.slice(cut + 2), encoding);
    // the per-message fields (Reporting-MTA is required), then one group per recipient
    // (Final-Recipient is required), separated by blank lines; only recipients' groups carry
    // Action and Status. A report not laid out so is not one.
    const blocks = unfoldHeaders(content.replace(/\r\n/g, '\n').trim()).split(/\n[ \t]*\n/);
    const [perMessage = '', ...perRecipient] = blocks;
    if (!/^Reporting-MTA:/im.test(perMessage) || /^(Action|Status|Final-Recipient):/im.test(perMessage)) return null;
    // each recipient's group names the recipient and carries an Action and a Status code (required)
    const recipients = perRecipient
      .filter((b) => /^Final-Recipient:/im.test(b))
      .map((b) => ({
        action: /^Action:\s*([\w-]+)/im.exec(b)?.[1]?.toLowerCase() ?? null,
        status: /^Status:\s*([245]\.\d{1,3}\.\d{1,3})\s*(?:\(.*\))?\s*$/im.exec(b)?.[1] ?? null,
        diagnostic: /^Diagnostic-Code:\s*(.+)$/im.exec(b)?.[1]?.trim().slice(0, 500) ?? null,
      }))
      .filter((r) => r.action !== null && r.status !== null);
    return recipients.length === 0 ? null : recipients;
  }
  return null;
}

function unfoldHeaders(text: string): string {
  return text.replace(/\r?\n(?=[ \t])/g, '');
}

function contentType(headers: string): { type: string; params: Record<string, string> } | null {
  const m = /^content-type:\s*([^\r\n]*)/im.exec(headers);
  if (!m) return null;
  const [type, ...rest] = m[1]!.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { type: type!.trim().toLowerCase(), params };
}

function decodeBody(body: string, encoding: string | undefined): string {
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    return Buffer.from(
      body.replace(/=\r?\n/g, '').replace(/=([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  }
  return body;
}

/**
 * Reads what reached a return path: whether it is a delivery status notification (RFC 3464),
 * and what it says about which letter. Only a return path with a valid MAC names a letter; a
 * report whose original headers carry the Message-ID of another letter is ignored too. A
 * notification is permanent when a recipient failed with a 5.x.x status; "delayed", 4.x.x
 * (the receiving side is still trying) and "delivered" are not. Anything that is not such a
 * notification (an auto-reply, a person's reply) is never a bounce.
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
  const recipientsStatus = deliveryStatusOf(text);
  const failed = recipientsStatus?.find((r) => (r.action === 'failed' || r.action === null) && (r.status?.startsWith('5.') ?? false));
  const reported = failed ?? recipientsStatus?.[0] ?? null;

  let ignored: BounceReport['ignored'] = null;
  if (!path) ignored = 'not_a_return_path';
  else if (!path.signed) ignored = path.reason;
  else if (!recipientsStatus) ignored = parsed && isAutoReply(parsed.headers, parsed.subject) ? 'auto_reply' : 'not_a_report';
  else if ([...reportText.matchAll(LETTER_MESSAGE_ID)].some((m) => m[1]!.toLowerCase() !== path.letterId)) ignored = 'message_id_mismatch';
  const letterId = path?.letterId ?? null;
  return {
    letterId,
    status: reported?.status ?? null,
    permanent: ignored === null && failed !== undefined,
    diagnostic: reported?.diagnostic ?? null,
    ignored,
  };
}

/** Marks a SENT letter BOUNCED once, and counts the bounce against its target. */
export async function recordBounce(pool: pg.Pool, report: BounceReport, now: Date): Promise<'recorded' | 'ignored'> {
  if (!report.letterId || !report.permanent || report.ignored) return 'ignored';
  const reason = ['bounced', report.status, report.diagnostic].filter(Boolean).join(': ').slice(0, 1000);
  const bounced = await inTransaction(pool, async (tx) => {
    const letter = await qb(tx)
      .updateTable('letters')
      .set({ status: LetterStatus.BOUNCED, bounced_at: now, last_error: reason })
      .where('id', '=', report.letterId!)
      .where('status', '=', LetterStatus.SENT)
      .returning('target_id')
      .executeTakeFirst();
    // letter.bounced for webhooks, in the same transaction as the state change
    if (letter) await emitLetterEvent(tx, 'letter.bounced', report.letterId!);
    return letter;
  });
  if (!bounced) return 'ignored';
  await qb(pool)
    .updateTable('targets')
    .set((eb) => ({
      bounce_count: eb('bounce_count', '+', 1),
      contact_status: eb
        .case()
        .when(eb('bounce_count', '+', 1), '>=', STALE_AFTER_BOUNCES)
        .then(sql.lit(ContactStatus.STALE))
        .else(eb.ref('contact_status'))
        .end(),
    }))
    .where('id', '=', bounced.target_id)
    .execute();
  return 'recorded';
}

/** What became of mail received on the bounce endpoint, for chorus_bounces_received_total (a closed set). */
export function bounceOutcome(report: BounceReport, recorded: 'recorded' | 'ignored'): string {
  if (report.ignored) return report.ignored;
  if (!report.letterId) return 'not_a_return_path';
  if (recorded === 'recorded') return 'bounced';
  // a report about one of our letters that did not bounce it: a delay notice, or a second report
  return report.permanent && report.letterId ? 'duplicate' : 'not_permanent';
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
            bouncesReceived.inc({ outcome: bounceOutcome(report, outcome) });
            // ids and codes only: no addresses, no subject, no diagnostic text (it may quote one)
            if (report.ignored === 'auto_reply' || report.ignored === 'not_a_report') {
              opts.log.info({ letterId: report.letterId, reason: report.ignored }, 'not a bounce: mail to a return path that is no delivery status notification, ignored');
            } else if (report.ignored) opts.log.warn({ letterId: report.letterId, reason: report.ignored }, 'bounce ignored: not a report about one of our letters');
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

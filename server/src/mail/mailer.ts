// The outgoing SMTP transport, with explicit timeouts, and the classification of its errors:
// a permanent refusal (5xx, a malformed address) must not be retried; anything else may be.
// Every email of the server and the workers goes through a transport made here, which signs it
// with DKIM (dkim.ts): the processes pass mailSigning(config), which refuses to go without a key.
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import { Transform, type TransformCallback } from 'node:stream';
import { createPrivateKey } from 'node:crypto';
import { ConfigError, type Config } from '../config/config.ts';
import { DKIM_SIGNED_HEADERS } from './dkim.ts';
import { smtpSends, type SmtpOutcome } from '../shared/metrics.ts';

export interface MailerOptions {
  smtpUrl: string;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
  pool?: boolean;
  maxConnections?: number;
  /** DKIM signing of every message; null only for a transport that never sends (a document build, a test of an unreachable relay) */
  dkim: DkimSigning | null;
}

/** What a transport signs with: the key of `keySelector`, for `domainName` (MAIL_FROM's domain, for DMARC alignment). */
export interface DkimSigning {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

/** The domain of a sender such as `Chorus <actions@chorus.example.org>`. */
export function mailDomain(mailFrom: string): string {
  const m = /@([^>\s]+)>?\s*$/.exec(mailFrom);
  return m?.[1] ?? 'chorus.invalid';
}

/** The signing of the platform's mail, from the configuration; without a key the process must not start. */
export function mailSigning(config: Pick<Config, 'MAIL_FROM' | 'DKIM_SELECTOR' | 'DKIM_PRIVATE_KEY'>): DkimSigning {
  if (!config.DKIM_PRIVATE_KEY) {
    throw new ConfigError(
      'Invalid configuration: DKIM_PRIVATE_KEY is required: the key that signs every email (npm start and npm run dns generate one into .data/; docs/operating.md)',
    );
  }
  return { domainName: mailDomain(config.MAIL_FROM).toLowerCase(), keySelector: config.DKIM_SELECTOR, privateKey: config.DKIM_PRIVATE_KEY };
}

export type Mailer = Transporter;

export function createMailer(opts: MailerOptions): Mailer {
  const url = new URL(opts.smtpUrl);
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    // a plain local relay or sink (127.0.0.1) is fine without TLS; elsewhere use it when offered
    ignoreTLS: url.searchParams.get('tls') === 'off',
    connectionTimeout: opts.connectionTimeoutMs ?? 10_000,
    greetingTimeout: opts.greetingTimeoutMs ?? 10_000,
    socketTimeout: opts.socketTimeoutMs ?? 30_000,
    pool: opts.pool ?? true,
    maxConnections: opts.maxConnections ?? 5,
    // rsa-sha256, relaxed/relaxed (nodemailer's only canonicalisation), over the headers listed in dkim.ts
    // The key is parsed once, here: given as PEM text, OpenSSL parses it again for every
    // signature, which took as long as the RSA signature itself (1.65 ms against 0.78 ms a
    // message on the benchmark's machine).
    ...(opts.dkim
      ? { dkim: { ...opts.dkim, privateKey: createPrivateKey({ key: opts.dkim.privateKey, format: 'pem' }) as unknown as string, headerFieldNames: DKIM_SIGNED_HEADERS.join(':') } }
      : {}),
  });
  // the message leaves in a few large chunks, not one per header and part (see Coalesce)
  transport.use('stream', (mail, done) => {
    mail.message.transform(() => new Coalesce());
    done();
  });
  return countingSends(transport);
}

/** Up to this much of a message is gathered into one chunk. */
const COALESCE_BYTES = 64 * 1024;

/**
 * Gathers a message's many small chunks (nodemailer writes each header line, boundary and part
 * apart) into chunks of up to COALESCE_BYTES. Each chunk reaching the SMTP socket is one write to
 * the kernel and one read at the relay: an email of ten chunks cost ten of each. The DKIM
 * signature is computed over the same bytes, whatever their chunking.
 */
export class Coalesce extends Transform {
  private held: Buffer[] = [];
  private size = 0;

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    this.held.push(b);
    this.size += b.length;
    if (this.size >= COALESCE_BYTES) this.release();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.release();
    callback();
  }

  private release(): void {
    if (this.size === 0) return;
    this.push(this.held.length === 1 ? this.held[0] : Buffer.concat(this.held, this.size));
    this.held = [];
    this.size = 0;
  }
}

/**
 * Counts every send of this transport in chorus_smtp_sends_total, by kind (a letter carries
 * X-Chorus-Letter; everything else is a member email) and outcome. Every email of the platform
 * goes through a transport made by createMailer, so this is the one place sends are counted.
 * The callers use the promise form of sendMail; the callback form is counted the same way.
 */
function countingSends(transport: Transporter): Transporter {
  const send = transport.sendMail.bind(transport) as (mail: SendMailOptions, callback?: (err: Error | null, info: unknown) => void) => Promise<unknown> | void;
  const kindOf = (mail: SendMailOptions) => (mail.headers && !Array.isArray(mail.headers) && 'X-Chorus-Letter' in mail.headers ? 'letter' : 'member');
  const counted = (mail: SendMailOptions, callback?: (err: Error | null, info: unknown) => void) => {
    const kind = kindOf(mail);
    if (callback) {
      return send(mail, (err, info) => {
        smtpSends.inc({ kind, outcome: err ? smtpOutcome(err) : 'sent' });
        callback(err, info);
      });
    }
    return (send(mail) as Promise<unknown>).then(
      (info) => {
        smtpSends.inc({ kind, outcome: 'sent' });
        return info;
      },
      (err: unknown) => {
        smtpSends.inc({ kind, outcome: smtpOutcome(err) });
        throw err;
      },
    );
  };
  transport.sendMail = counted as Transporter['sendMail'];
  return transport;
}

/** No connection, no greeting, no answer in time: nodemailer's codes for a relay that cannot be reached or went silent. */
const CONNECTION_CODES = new Set(['ETIMEDOUT', 'ECONNECTION', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** The class of a failed send, for the metrics: the same line between permanent and not as classifySendError. */
export function smtpOutcome(err: unknown): SmtpOutcome {
  const e = err as { responseCode?: number; code?: string; message?: string };
  if (typeof e.responseCode === 'number') return e.responseCode >= 500 ? 'permanent_failure' : 'temporary_failure';
  if (classifySendError(err).permanent) return 'permanent_failure';
  if ((e.code && CONNECTION_CODES.has(e.code)) || /timeout|timed out|connection/i.test(e.message ?? '')) return 'timeout_connection';
  return 'temporary_failure';
}

export type SendFailure = { permanent: boolean; reason: string };

/** SMTP 5xx and refused envelopes are permanent; network errors, timeouts and 4xx are transient. */
export function classifySendError(err: unknown): SendFailure {
  const e = err as { responseCode?: number; code?: string; response?: string; message?: string };
  const reason = (e.response ?? e.message ?? String(err)).slice(0, 900);
  if (typeof e.responseCode === 'number') {
    return { permanent: e.responseCode >= 500, reason: `${e.responseCode} ${reason}` };
  }
  if (e.code === 'EENVELOPE' && !/timeout|connection/i.test(reason)) return { permanent: true, reason };
  return { permanent: false, reason: `${e.code ?? 'error'} ${reason}` };
}

// The outgoing SMTP transport, with explicit timeouts, and the classification of its errors:
// a permanent refusal (5xx, a malformed address) must not be retried; anything else may be.
import nodemailer, { type Transporter } from 'nodemailer';

export interface MailerOptions {
  smtpUrl: string;
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
  pool?: boolean;
  maxConnections?: number;
}

export type Mailer = Transporter;

export function createMailer(opts: MailerOptions): Mailer {
  const url = new URL(opts.smtpUrl);
  return nodemailer.createTransport({
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
  });
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

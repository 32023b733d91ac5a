// What every email to a member carries: RFC 8058 one-click unsubscribe headers, and the
// footer links (unsubscribe page, "my data" page). Also the one email sent straight from a
// request: the "my data" link.
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Mailer } from '../mail/mailer.ts';
import { render, type RenderedMail } from '../mail/render.ts';
import { isLocale } from '../shared/locales.ts';
import { MY_DATA_TTL_HOURS, findSupporterForRequest, myDataToken, unsubscribeToken, type TokenDeps } from './supporter.service.ts';
import { dateFormat } from '../shared/intl.ts';

export interface MemberMailDeps extends TokenDeps {
  publicBaseUrl: string;
}

export interface MemberMailParts {
  /** nodemailer `headers` */
  headers: { 'List-Unsubscribe': string; 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
  /** template variables for the footer */
  vars: { unsubscribeUrl: string; myDataUrl: string };
}

/** A page of the member site in `locale` (English has no prefix); unknown locales get English. */
export function memberPageUrl(baseUrl: string, locale: string, path: string): string {
  const prefix = isLocale(locale) && locale !== 'en' ? `/${locale}` : '';
  return `${baseUrl.replace(/\/$/, '')}${prefix}${path}`;
}

export function memberMail(deps: MemberMailDeps, supporterId: string, locale: string): MemberMailParts {
  const token = unsubscribeToken(deps, supporterId);
  const base = deps.publicBaseUrl.replace(/\/$/, '');
  return {
    headers: {
      // the one-click endpoint is the API itself: mail clients POST to it without a page
      'List-Unsubscribe': `<${base}/api/unsubscribe/${token}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    vars: {
      unsubscribeUrl: memberPageUrl(base, locale, `/unsubscribe/${token}`),
      myDataUrl: memberPageUrl(base, locale, '/my-data'),
    },
  };
}

/** The message for a member email: automatic, with the one-click unsubscribe headers. */
export function memberMessage(from: string, to: string, mail: RenderedMail, parts: MemberMailParts, messageId?: string) {
  return {
    from,
    to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    ...(messageId ? { messageId } : {}),
    headers: { 'Auto-Submitted': 'auto-generated', ...parts.headers },
  };
}

/** SMTP replies and errors often quote the recipient: keep addresses out of logs. */
export function redactAddresses(text: string): string {
  return text.replace(/[^\s<>"',;:()]+@[^\s<>"',;:()]+/g, '[address]');
}

export interface MyDataLinkDeps extends MemberMailDeps {
  pool: pg.Pool;
  mailer: Mailer;
  mailFrom: string;
  /** one link per supporter per window, so the form cannot be used to flood someone's inbox */
  throttle?: { redis: Pick<Redis, 'set' | 'del'>; seconds: number };
  log?: { warn(obj: object, msg: string): void };
}

export type MyDataLinkOutcome = 'sent' | 'unknown' | 'throttled';

/**
 * Emails a "my data" link to the address on file for this email, if there is a live
 * supporter with it. The caller answers the same whatever this returns.
 */
export async function sendMyDataLink(deps: MyDataLinkDeps, request: { email: string; locale?: string }): Promise<MyDataLinkOutcome> {
  const sup = await findSupporterForRequest(deps.pool, request.email);
  if (!sup) return 'unknown';
  const locale = request.locale ?? sup.locale;
  const parts = memberMail(deps, sup.id, locale);
  const expires = new Date(deps.clock().getTime() + MY_DATA_TTL_HOURS * 3_600_000);
  const mail = render('my-data-link', locale, {
    myDataLinkUrl: memberPageUrl(deps.publicBaseUrl, locale, `/my-data/${myDataToken(deps, sup.id)}`),
    expires: `${dateFormat(isLocale(locale) ? locale : 'en', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(expires)} UTC`,
    ...parts.vars,
  });
  const throttleKey = `chorus:my-data-link:${sup.id}`;
  if (deps.throttle) {
    try {
      const fresh = await deps.throttle.redis.set(throttleKey, '1', 'EX', deps.throttle.seconds, 'NX');
      if (fresh === null) return 'throttled';
    } catch (err) {
      // Redis away: sending without the throttle beats not answering a request for one's data
      deps.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'my-data throttle unavailable');
    }
  }
  try {
    // the stored address, never the one typed into the form
    await deps.mailer.sendMail(memberMessage(deps.mailFrom, sup.email, mail, parts));
  } catch (err) {
    // let the person ask again at once rather than wait out the throttle
    if (deps.throttle) await deps.throttle.redis.del(throttleKey).catch(() => 0);
    throw err;
  }
  return 'sent';
}

// Sends the email a signer owes us a click on: a confirmation link while pending, or a
// short "already signed" note when a confirmed signer signs again. The database says what
// is owed (requested after last sent), so a repeated or replayed job sends nothing twice.
import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import type { Mailer } from '../mail/mailer.ts';
import { classifySendError } from '../mail/mailer.ts';
import { render } from '../mail/render.ts';
import { isLocale } from '../shared/locales.ts';
import { memberMail, memberMessage, memberPageUrl } from '../supporter/member-mail.ts';
import { SIGNUP_COLUMNS, confirmationToken, signupDetails, signupVersion, type SignupRow } from './signature.service.ts';
import { regionNames } from '../letter/member-letter.ts';
import { dateFormat } from '../shared/intl.ts';

export interface ConfirmationMailDeps {
  pool: pg.Pool;
  mailer: Mailer;
  secret: string;
  clock: () => Date;
  confirmLinkTtlHours: number;
  publicBaseUrl: string;
  mailFrom: string;
}

export function mailDomain(mailFrom: string): string {
  const m = /@([^>\s]+)>?\s*$/.exec(mailFrom);
  return m?.[1] ?? 'chorus.invalid';
}

/**
 * A fresh confirmation link (bound to these details: it confirms only them) and the date it
 * expires, and the details themselves as the emails show them, for the confirmation and
 * reminder emails.
 */
export function confirmLinkVars(
  deps: Pick<ConfirmationMailDeps, 'secret' | 'clock' | 'confirmLinkTtlHours' | 'publicBaseUrl'>,
  signatureId: string,
  locale: string,
  row: SignupRow,
) {
  const expiresAt = new Date(deps.clock().getTime() + deps.confirmLinkTtlHours * 3_600_000);
  const lang = isLocale(locale) ? locale : 'en';
  const details = signupDetails(row);
  return {
    confirmUrl: memberPageUrl(deps.publicBaseUrl, locale, `/confirm/${confirmationToken(deps, signatureId, signupVersion(details))}`),
    expires: dateFormat(lang, { dateStyle: 'long', timeZone: 'UTC' }).format(expiresAt),
    signup: { ...details, countryName: regionNames(lang).of(details.country) ?? details.country },
  };
}

export type ConfirmationOutcome = 'sent' | 'already-signed-sent' | 'nothing-owed';

export async function sendConfirmation(deps: ConfirmationMailDeps, signatureId: string): Promise<ConfirmationOutcome> {
  const { rows } = await deps.pool.query<
    SignupRow & {
    id: string;
    status: string;
    locale: string;
    requested_at: Date;
    sent_at: Date | null;
    supporter_id: string;
    email: string | null;
    first_name: string | null;
    slug: string;
    title: string;
  }>({
    // named: prepared once per connection, so PostgreSQL plans it once, not per email
    // (planning was three quarters of its cost: 0.29 ms of PostgreSQL CPU unnamed, 0.07 named)
    name: 'confirmation-load',
    text: `SELECT s.id, s.status, s.locale, s.confirmation_requested_at AS requested_at, s.confirmation_sent_at AS sent_at,
            p.id AS supporter_id, p.email, p.first_name, a.slug, ${SIGNUP_COLUMNS},
            COALESCE((SELECT title FROM action_texts WHERE action_id = a.id AND locale = s.locale),
                     (SELECT title FROM action_texts WHERE action_id = a.id AND locale = a.default_locale), a.slug) AS title
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     WHERE s.id = $1`,
    values: [signatureId],
  });
  const sig = rows[0];
  if (!sig || !sig.email || sig.status === 'INVALIDATED') return 'nothing-owed';
  if (sig.sent_at && sig.sent_at >= sig.requested_at) return 'nothing-owed';

  const action = { slug: sig.slug, title: sig.title };
  // the "already signed" note greets the confirmed signer by the name she confirmed; a pending
  // sign-up is not greeted by any name: its email shows the details it would confirm
  const firstName = sig.first_name ?? '';
  // transactional (the signer just asked for it), so sent even to an unsubscribed supporter,
  // but like every member email it carries the one-click unsubscribe and the footer links
  const member = memberMail(deps, sig.supporter_id, sig.locale);
  const mail =
    sig.status === 'PENDING'
      ? render('confirmation', sig.locale, {
          action,
          ...confirmLinkVars(deps, sig.id, sig.locale, sig),
          ...member.vars,
        })
      : render('already-signed', sig.locale, {
          firstName,
          action,
          actionUrl: memberPageUrl(deps.publicBaseUrl, sig.locale, `/actions/${sig.slug}`),
          ...member.vars,
        });

  try {
    await deps.mailer.sendMail(
      memberMessage(deps.mailFrom, sig.email, mail, member, `<confirm.${sig.id}.${sig.requested_at.getTime()}@${mailDomain(deps.mailFrom)}>`),
    );
  } catch (err) {
    const failure = classifySendError(err);
    if (!failure.permanent) throw err;
    // a refused address will not start working on retry: stop owing this email
    await markSent(deps.pool, sig.id, sig.requested_at);
    throw new UnrecoverableError(`confirmation refused: ${failure.reason}`);
  }
  await markSent(deps.pool, sig.id, sig.requested_at);
  return sig.status === 'PENDING' ? 'sent' : 'already-signed-sent';
}

async function markSent(pool: pg.Pool, id: string, requestedAt: Date): Promise<void> {
  await pool.query({
    name: 'confirmation-mark-sent',
    text: `UPDATE signatures SET confirmation_sent_at = $2
     WHERE id = $1 AND (confirmation_sent_at IS NULL OR confirmation_sent_at < $2)`,
    values: [id, requestedAt],
  });
}

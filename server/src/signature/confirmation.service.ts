// Sends the email a signer owes us a click on: a confirmation link while pending, or a
// short "already signed" note when a confirmed signer signs again. The database says what
// is owed (requested after last sent), so a repeated or replayed job sends nothing twice.
//
// One address gets at most `budget.perWindow` of these emails per window (SIGN_LIMIT_PER_EMAIL
// per 10 minutes), whoever signs with it and on whichever path, so the forms cannot be used to
// flood an inbox. Past it, an email waits (its sign-up stays pending) until the address's budget
// allows, and the budget lets the address's owed emails go oldest request first: a sign-up is
// never dropped for being past the limit, and nobody who used up an address's budget can keep
// its owner's own sign-up from being emailed (a repeat of theirs is a newer request, so it queues
// behind hers). Promise 4; tests/promises/04-flagged-signup-never-blocks-you.test.ts.
import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { inTransaction, SignatureStatus } from '../db/db.ts';
import { confirmationLoad, confirmationMarkSent, confirmationMarkSentAndListed, confirmationRelease, runHot, type RowOf } from '../db/hot-statements.ts';
import type { Mailer } from '../mail/mailer.ts';
import { classifySendError, mailDomain } from '../mail/mailer.ts';
import { render } from '../mail/render.ts';
import { isLocale } from '../shared/locales.ts';
import { memberMail, memberMessage, memberPageUrl } from '../supporter/member-mail.ts';
import { OTHERS_LISTED, confirmationToken, signupDetails, signupVersion, type SignupRow } from './signature.service.ts';
import { regionNames } from '../letter/member-letter.ts';
import { dateInSentence } from '../shared/intl.ts';
import { open, openName, openOrNull, supporterKey } from '../privacy/personal-data.ts';

export interface ConfirmationMailDeps {
  pool: pg.Pool;
  mailer: Mailer;
  secret: string;
  clock: () => Date;
  confirmLinkTtlHours: number;
  publicBaseUrl: string;
  mailFrom: string;
  /** the per-address limit (the workers always pass it); absent = none (some tests, scripts) */
  budget?: ConfirmationBudget;
}

/** At most `perWindow` confirmation and "already signed" emails per address per fixed window of `windowMs`. */
export interface ConfirmationBudget {
  perWindow: number;
  windowMs: number;
}

/** The start of the budget window `now` is in (windows are counted from the epoch, like the Redis limits). */
export function budgetWindowStart(now: Date, windowMs: number): Date {
  return new Date(Math.floor(now.getTime() / windowMs) * windowMs);
}

/** When an email that had to wait may be tried again: the start of the next window. */
export function nextBudgetWindow(now: Date, windowMs: number): Date {
  return new Date(budgetWindowStart(now, windowMs).getTime() + windowMs);
}

/**
 * Lets go as many of the owed emails of this signature's supporter as the address's budget for
 * the current window allows, oldest request first (requested_at, then id), by setting the
 * released_at of their confirmation_emails rows to the request they answer, and counts them
 * against the window. One statement (chorus_release_confirmations, in its migration). Run inside
 * a transaction: it locks the supporter row first (the order every writer of a person's rows
 * takes: supporter, then signatures), so two workers never let go the same budget twice, and a
 * sign-up cannot change a request between its release and its loading. Answers the ids let go.
 * An email counts when it is let go: one whose request a newer sign-up replaces before it is sent
 * still counts, so the address gets fewer emails that window, never more.
 */
export async function releaseOwedConfirmations(tx: pg.PoolClient, signatureId: string, now: Date, budget: ConfirmationBudget): Promise<string[]> {
  const window = budgetWindowStart(now, budget.windowMs);
  const released = await runHot(tx, confirmationRelease, [signatureId, window, budget.perWindow]);
  return released.map((r) => r.id);
}

export { mailDomain };

/**
 * A fresh confirmation link (bound to these details: it confirms only them) and the date it
 * expires, and the details themselves as the emails show them, for the confirmation and
 * reminder emails.
 */
export function confirmLinkVars(
  deps: Pick<ConfirmationMailDeps, 'secret' | 'clock' | 'confirmLinkTtlHours' | 'publicBaseUrl'>,
  signatureId: string,
  locale: string,
  row: SignupRow & { data_key: Buffer | null; receipt_sealed: Buffer | null },
) {
  const expiresAt = new Date(deps.clock().getTime() + deps.confirmLinkTtlHours * 3_600_000);
  const lang = isLocale(locale) ? locale : 'en';
  const details = signupDetails(row, row.data_key);
  const receipt = openOrNull(supporterKey(row.supporter_id, row.data_key), row.supporter_id, 'receipt', row.receipt_sealed);
  return {
    confirmUrl: memberPageUrl(deps.publicBaseUrl, locale, `/confirm/${confirmationToken(deps, signatureId, row.signup_version ?? signupVersion(details))}`),
    expires: dateInSentence(lang, expiresAt),
    signup: { ...details, countryName: regionNames(lang).of(details.country) ?? details.country },
    // the sign-up's receipt: once confirmed, its holder can check it was counted (/verify)
    receipt,
    verifyUrl: memberPageUrl(deps.publicBaseUrl, locale, '/verify'),
  };
}

/**
 * - sent, already-signed-sent: the email went;
 * - nothing-owed: no email is owed (sent already, discarded, erased, ...);
 * - deferred: owed, but the address's budget for this window is used up, or older requests of
 *   the address come first: try again at nextBudgetWindow() (the workers delay the job to then).
 */
export type ConfirmationOutcome = 'sent' | 'already-signed-sent' | 'nothing-owed' | 'deferred';

type LoadedConfirmation = RowOf<(typeof confirmationLoad)['columns']>;

async function loadConfirmation(db: pg.Pool | pg.PoolClient, signatureId: string): Promise<LoadedConfirmation | undefined> {
  const rows = await runHot(db, confirmationLoad, [signatureId]);
  return rows[0];
}

const owed = (sig: LoadedConfirmation | undefined): sig is LoadedConfirmation & { email: Buffer; requested_at: Date } =>
  Boolean(sig && sig.email && sig.requested_at && sig.status !== SignatureStatus.INVALIDATED && !(sig.sent_at && sig.sent_at >= sig.requested_at));
const released = (sig: LoadedConfirmation & { requested_at: Date }) => sig.released_at !== null && sig.released_at.getTime() >= sig.requested_at.getTime();

export async function sendConfirmation(deps: ConfirmationMailDeps, signatureId: string): Promise<ConfirmationOutcome> {
  const budget = deps.budget;
  // with a budget, the release and the read of the request it let go are one transaction under
  // the supporter's lock: what is sent is exactly the request that was let go (a request let go
  // already finds nothing more to let go, and is read as it is)
  const sig = budget
    ? await inTransaction(
        deps.pool,
        async (tx) => {
          await releaseOwedConfirmations(tx, signatureId, deps.clock(), budget);
          return loadConfirmation(tx, signatureId);
        },
        { retries: 3 },
      )
    : await loadConfirmation(deps.pool, signatureId);
  if (!owed(sig)) return 'nothing-owed';
  if (budget && !released(sig)) return 'deferred';

  const action = { slug: sig.slug, title: sig.title };
  const sendingAt = new Date();
  // the "already signed" note greets the confirmed signer by the name she confirmed; a pending
  // sign-up is not greeted by any name: its email shows the details it would confirm
  const key = supporterKey(sig.supporter_id, sig.data_key);
  // opened only for the note that uses it
  const firstName = sig.status === SignatureStatus.PENDING ? '' : (openName(key, sig.supporter_id, sig.name).first ?? '');
  const email = open(key!, sig.supporter_id, 'email', sig.email);
  // transactional (the signer just asked for it), so sent even to an unsubscribed supporter,
  // but like every member email it carries the one-click unsubscribe and the footer links
  const member = memberMail(deps, sig.supporter_id, sig.locale);
  const mail =
    sig.status === SignatureStatus.PENDING
      ? render('confirmation', sig.locale, {
          action,
          othersWaiting: sig.others_waiting,
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
      memberMessage(deps.mailFrom, email, mail, member, `<confirm.${sig.id}.${sig.requested_at.getTime()}@${mailDomain(deps.mailFrom)}>`),
    );
  } catch (err) {
    const failure = classifySendError(err);
    if (!failure.permanent) throw err;
    // a refused address will not start working on retry: stop owing this email
    await markConfirmationSent(deps.pool, sig.id, sig.requested_at);
    throw new UnrecoverableError(`confirmation refused: ${failure.reason}`);
  }
  // the page behind this email lists every sign-up of the address for the action that waits:
  // those that asked before it went owe no email of their own any more (nor a reminder)
  await markSentAndListed(deps.pool, sig.id, sig.requested_at, sendingAt, sig.status === SignatureStatus.PENDING);
  return sig.status === SignatureStatus.PENDING ? 'sent' : 'already-signed-sent';
}

/**
 * The email answering `requestedAt` went, sent at `sendingAt`; with `listing` (a confirmation
 * page), the sign-ups its page lists are marked as emailed too: exactly those the page lists
 * (signature.service.ts waitingBeside: oldest first, up to OTHERS_LISTED); one it cannot list
 * keeps its own email owed. One statement.
 */
async function markSentAndListed(pool: pg.Pool, id: string, requestedAt: Date, sendingAt: Date, listing: boolean): Promise<void> {
  await runHot(pool, confirmationMarkSentAndListed, [id, requestedAt, sendingAt, listing, OTHERS_LISTED]);
}

/** The email answering the request `requestedAt` went: nothing is owed until a newer request. */
export async function markConfirmationSent(pool: pg.Pool, id: string, requestedAt: Date): Promise<void> {
  await runHot(pool, confirmationMarkSent, [id, requestedAt]);
}

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
import { inTransaction } from '../db/db.ts';
import type { Mailer } from '../mail/mailer.ts';
import { classifySendError } from '../mail/mailer.ts';
import { render } from '../mail/render.ts';
import { isLocale } from '../shared/locales.ts';
import { memberMail, memberMessage, memberPageUrl } from '../supporter/member-mail.ts';
import { OTHERS_LISTED, SIGNUP_COLUMNS, confirmationToken, signupDetails, signupVersion, type SignupRow } from './signature.service.ts';
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
 * Lets go as many of this supporter's owed emails as the address's budget for the current window
 * allows, oldest request first (confirmation_requested_at, then id), by setting their
 * confirmation_released_at to the request they answer, and counts them against the window. Run
 * inside a transaction: the supporter row is locked first (the order every writer of a person's
 * rows takes: supporter, then signatures), so two workers never let go the same budget twice, and
 * a sign-up cannot change a request between its release and its loading. Answers the ids let go.
 * An email counts when it is let go: one whose request a newer sign-up replaces before it is sent
 * still counts, so the address gets fewer emails that window, never more.
 */
export async function releaseOwedConfirmations(tx: pg.PoolClient, supporterId: string, now: Date, budget: ConfirmationBudget): Promise<string[]> {
  const window = budgetWindowStart(now, budget.windowMs);
  const { rows } = await tx.query<{ window_at: Date | null; sent: number }>({
    name: 'confirmation-budget-lock',
    text: 'SELECT confirmation_window_at AS window_at, confirmation_window_sent AS sent FROM supporters WHERE id = $1 FOR NO KEY UPDATE',
    values: [supporterId],
  });
  const budgetRow = rows[0];
  if (!budgetRow) return [];
  const used = budgetRow.window_at?.getTime() === window.getTime() ? budgetRow.sent : 0;
  const room = budget.perWindow - used;
  if (room <= 0) return [];
  const released = await tx.query<{ id: string }>({
    name: 'confirmation-budget-release',
    // one email per action at a time: the oldest request of each action not already let go and
    // on its way (its page lists every waiting sign-up of the action); then the oldest first
    text: `WITH owed AS (
       SELECT id FROM (
         SELECT DISTINCT ON (s.action_id) s.id, s.confirmation_requested_at AS requested_at
         FROM signatures s
         WHERE s.supporter_id = $1 AND s.status <> 'INVALIDATED'
           AND (s.confirmation_sent_at IS NULL OR s.confirmation_requested_at > s.confirmation_sent_at)
           AND (s.confirmation_released_at IS NULL OR s.confirmation_released_at < s.confirmation_requested_at)
           AND NOT EXISTS (SELECT 1 FROM signatures w
                           WHERE w.supporter_id = $1 AND w.action_id = s.action_id AND w.status <> 'INVALIDATED'
                             AND w.confirmation_released_at >= w.confirmation_requested_at
                             AND (w.confirmation_sent_at IS NULL OR w.confirmation_requested_at > w.confirmation_sent_at))
         ORDER BY s.action_id, s.confirmation_requested_at, s.id
       ) first_of_each
       ORDER BY requested_at, id
       LIMIT $2
     )
     UPDATE signatures s SET confirmation_released_at = s.confirmation_requested_at
     FROM owed WHERE s.id = owed.id
     RETURNING s.id`,
    values: [supporterId, room],
  });
  if (released.rows.length > 0) {
    await tx.query({
      name: 'confirmation-budget-count',
      text: 'UPDATE supporters SET confirmation_window_at = $2, confirmation_window_sent = $3 WHERE id = $1',
      values: [supporterId, window, used + released.rows.length],
    });
  }
  return released.rows.map((r) => r.id);
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

/**
 * - sent, already-signed-sent: the email went;
 * - nothing-owed: no email is owed (sent already, discarded, erased, ...);
 * - deferred: owed, but the address's budget for this window is used up, or older requests of
 *   the address come first: try again at nextBudgetWindow() (the workers delay the job to then).
 */
export type ConfirmationOutcome = 'sent' | 'already-signed-sent' | 'nothing-owed' | 'deferred';

type LoadedConfirmation = SignupRow & {
  id: string;
  status: string;
  locale: string;
  requested_at: Date;
  sent_at: Date | null;
  released_at: Date | null;
  supporter_id: string;
  email: string | null;
  first_name: string | null;
  slug: string;
  title: string;
  /** other sign-ups with the address for the action that wait: the email says its page lists them */
  others_waiting: number;
};

async function loadConfirmation(db: pg.Pool | pg.PoolClient, signatureId: string): Promise<LoadedConfirmation | undefined> {
  const { rows } = await db.query<LoadedConfirmation>({
    // named: prepared once per connection, so PostgreSQL plans it once, not per email
    // (planning was three quarters of its cost: 0.29 ms of PostgreSQL CPU unnamed, 0.07 named)
    name: 'confirmation-load',
    text: `SELECT s.id, s.status, s.locale, s.confirmation_requested_at AS requested_at, s.confirmation_sent_at AS sent_at,
            s.confirmation_released_at AS released_at, p.id AS supporter_id, p.email, p.first_name, a.slug, ${SIGNUP_COLUMNS},
            (SELECT count(*)::int FROM signatures o WHERE o.action_id = s.action_id AND o.supporter_id = s.supporter_id
                                                     AND o.status = 'PENDING' AND o.id <> s.id) AS others_waiting,
            COALESCE((SELECT title FROM action_texts WHERE action_id = a.id AND locale = s.locale),
                     (SELECT title FROM action_texts WHERE action_id = a.id AND locale = a.default_locale), a.slug) AS title
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     WHERE s.id = $1`,
    values: [signatureId],
  });
  return rows[0];
}

const owed = (sig: LoadedConfirmation | undefined): sig is LoadedConfirmation & { email: string } =>
  Boolean(sig && sig.email && sig.status !== 'INVALIDATED' && !(sig.sent_at && sig.sent_at >= sig.requested_at));
const released = (sig: LoadedConfirmation) => sig.released_at !== null && sig.released_at.getTime() >= sig.requested_at.getTime();

export async function sendConfirmation(deps: ConfirmationMailDeps, signatureId: string): Promise<ConfirmationOutcome> {
  let sig = await loadConfirmation(deps.pool, signatureId);
  if (!owed(sig)) return 'nothing-owed';
  if (deps.budget && !released(sig)) {
    const budget = deps.budget;
    const supporterId = sig.supporter_id;
    // let go what the budget allows, oldest first, and read this request again under the same
    // lock: what is sent is exactly the request that was let go
    sig = await inTransaction(
      deps.pool,
      async (tx) => {
        await releaseOwedConfirmations(tx, supporterId, deps.clock(), budget);
        return loadConfirmation(tx, signatureId);
      },
      { retries: 3 },
    );
    if (!owed(sig)) return 'nothing-owed';
    if (!released(sig)) return 'deferred';
  }

  const action = { slug: sig.slug, title: sig.title };
  const sendingAt = new Date();
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
  // the page behind this email lists every sign-up of the address for the action that waits:
  // those that asked before it went owe no email of their own any more (nor a reminder)
  if (sig.status === 'PENDING') await markListed(deps.pool, sig.id, sendingAt);
  return sig.status === 'PENDING' ? 'sent' : 'already-signed-sent';
}

async function markListed(pool: pg.Pool, id: string, at: Date): Promise<void> {
  // exactly those the page lists (signature.service.ts waitingBeside: oldest first, up to
  // OTHERS_LISTED): one it cannot list keeps its own email owed
  await pool.query({
    name: 'confirmation-mark-listed',
    text: `WITH listed AS (
       SELECT o.id FROM signatures s JOIN signatures o ON o.action_id = s.action_id AND o.supporter_id = s.supporter_id
       WHERE s.id = $1 AND o.id <> s.id AND o.status = 'PENDING'
       ORDER BY o.created_at, o.id LIMIT $3
     )
     UPDATE signatures o SET confirmation_sent_at = o.confirmation_requested_at, reminder_sent_at = COALESCE(o.reminder_sent_at, $2)
     FROM listed l
     WHERE o.id = l.id AND o.confirmation_requested_at <= $2
       AND (o.confirmation_sent_at IS NULL OR o.confirmation_requested_at > o.confirmation_sent_at)`,
    values: [id, at, OTHERS_LISTED],
  });
}

async function markSent(pool: pg.Pool, id: string, requestedAt: Date): Promise<void> {
  await pool.query({
    name: 'confirmation-mark-sent',
    text: `UPDATE signatures SET confirmation_sent_at = $2
     WHERE id = $1 AND (confirmation_sent_at IS NULL OR confirmation_sent_at < $2)`,
    values: [id, requestedAt],
  });
}

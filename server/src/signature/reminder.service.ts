// One reminder, ever, to a signer who has not confirmed: some hours after the confirmation
// email, with a fresh link. It is optional mail, so unsubscribed and erased supporters get
// none. Each signature is claimed with a conditional UPDATE before anything is sent, so two
// workers never both send it; a transient SMTP failure releases the claim for a later run,
// and a crash between claim and send means no reminder rather than two.
import type pg from 'pg';
import { classifySendError, type Mailer } from '../mail/mailer.ts';
import { render } from '../mail/render.ts';
import { memberMail, memberMessage, redactAddresses } from '../supporter/member-mail.ts';
import { confirmLinkVars, mailDomain } from './confirmation.service.ts';
import { SIGNUP_COLUMNS, type SignupRow } from './signature.service.ts';

export interface ReminderDeps {
  pool: pg.Pool;
  mailer: Mailer;
  secret: string;
  clock: () => Date;
  confirmLinkTtlHours: number;
  publicBaseUrl: string;
  mailFrom: string;
  log?: { warn(obj: object, msg: string): void };
}

export interface ReminderOptions {
  /** defaults to deps.clock() */
  now?: Date;
  /** remind this long after the (latest) confirmation email */
  afterHours: number;
  /** at most this many reminders per run */
  limit?: number;
}

export interface ReminderRun {
  sent: number;
  /** refused for good (5xx): not retried, the signature keeps its one reminder */
  refused: number;
  /** transient failure: claim released, a later run tries again */
  retry: number;
}

/** Signatures sent at most this many at a time over the mailer's pool. */
const CONCURRENCY = 5;

export async function sendDueReminders(deps: ReminderDeps, opts: ReminderOptions): Promise<ReminderRun> {
  const now = opts.now ?? deps.clock();
  const dueBefore = new Date(now.getTime() - opts.afterHours * 3_600_000);
  // past the link lifetime, the signer has had their chance: no late nudge
  const createdAfter = new Date(now.getTime() - deps.confirmLinkTtlHours * 3_600_000);
  const { rows } = await deps.pool.query<{ id: string }>(
    `SELECT s.id FROM signatures s
     JOIN supporters p ON p.id = s.supporter_id
     JOIN actions a ON a.id = s.action_id
     WHERE s.status = 'PENDING' AND s.reminder_sent_at IS NULL
       AND s.confirmation_sent_at IS NOT NULL
       AND s.confirmation_sent_at >= s.confirmation_requested_at
       AND s.confirmation_sent_at < $1
       AND s.created_at > $2
       AND p.erased_at IS NULL AND p.email IS NOT NULL AND p.unsubscribed_at IS NULL
       AND a.status = 'PUBLISHED'
     ORDER BY s.confirmation_sent_at
     LIMIT $3`,
    [dueBefore, createdAfter, opts.limit ?? 200],
  );

  const run: ReminderRun = { sent: 0, refused: 0, retry: 0 };
  for (let i = 0; i < rows.length; i += CONCURRENCY) {
    const outcomes = await Promise.all(rows.slice(i, i + CONCURRENCY).map((r) => remindOne(deps, r.id, now)));
    for (const o of outcomes) if (o !== 'lost') run[o] += 1;
  }
  return run;
}

type OneOutcome = 'sent' | 'refused' | 'retry' | 'lost';

async function remindOne(deps: ReminderDeps, signatureId: string, now: Date): Promise<OneOutcome> {
  // claim: only one caller sees a row come back; conditions are re-checked under the row lock
  const { rows } = await deps.pool.query<
    SignupRow & {
      id: string;
      locale: string;
      supporter_id: string;
      email: string;
      title: string;
    }
  >(
    `UPDATE signatures s SET reminder_sent_at = $2
     FROM supporters p, actions a
     WHERE s.id = $1 AND p.id = s.supporter_id AND a.id = s.action_id
       AND s.status = 'PENDING' AND s.reminder_sent_at IS NULL
       AND p.erased_at IS NULL AND p.email IS NOT NULL AND p.unsubscribed_at IS NULL
     RETURNING s.id, s.locale, s.supporter_id, p.email, ${SIGNUP_COLUMNS},
       COALESCE((SELECT title FROM action_texts WHERE action_id = a.id AND locale = s.locale),
                (SELECT title FROM action_texts WHERE action_id = a.id AND locale = a.default_locale), a.slug) AS title`,
    [signatureId, now],
  );
  const sig = rows[0];
  if (!sig) return 'lost';

  const member = memberMail({ ...deps, clock: () => now }, sig.supporter_id, sig.locale);
  const mail = render('reminder', sig.locale, {
    action: { title: sig.title },
    ...confirmLinkVars({ ...deps, clock: () => now }, sig.id, sig.locale, sig),
    ...member.vars,
  });
  try {
    await deps.mailer.sendMail(memberMessage(deps.mailFrom, sig.email, mail, member, `<reminder.${sig.id}@${mailDomain(deps.mailFrom)}>`));
    return 'sent';
  } catch (err) {
    const failure = classifySendError(err);
    const reason = redactAddresses(failure.reason);
    if (failure.permanent) {
      deps.log?.warn({ signatureId: sig.id, reason }, 'reminder refused; not retried');
      return 'refused';
    }
    await deps.pool.query('UPDATE signatures SET reminder_sent_at = NULL WHERE id = $1 AND reminder_sent_at = $2', [sig.id, now]);
    deps.log?.warn({ signatureId: sig.id, reason }, 'reminder not sent; will retry');
    return 'retry';
  }
}

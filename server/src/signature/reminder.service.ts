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
import { SIGNUP_COLUMNS } from './signature.service.ts';
import { ActionStatus, qb, SignatureStatus } from '../db/db.ts';
import { open, unwrapDataKey } from '../privacy/personal-data.ts';

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
  const rows = await qb(deps.pool)
    .selectFrom('confirmation_emails as e')
    .innerJoin('signatures as s', 's.id', 'e.signature_id')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .innerJoin('actions as a', 'a.id', 's.action_id')
    .select('s.id')
    .where('s.status', '=', SignatureStatus.PENDING)
    .where('e.reminder_sent_at', 'is', null)
    .where('e.sent_at', 'is not', null)
    .whereRef('e.sent_at', '>=', 'e.requested_at')
    .where('e.sent_at', '<', dueBefore)
    .where('s.created_at', '>', createdAfter)
    .where('p.erased_at', 'is', null)
    .where('p.email', 'is not', null)
    .where('p.unsubscribed_at', 'is', null)
    .where('a.status', '=', ActionStatus.PUBLISHED)
    .orderBy('e.sent_at')
    .limit(opts.limit ?? 200)
    .execute();

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
  const sig = await qb(deps.pool)
    .updateTable('confirmation_emails as e')
    .from(['signatures as s', 'supporters as p', 'actions as a'])
    .set({ reminder_sent_at: now })
    .whereRef('s.id', '=', 'e.signature_id')
    .whereRef('p.id', '=', 's.supporter_id')
    .whereRef('a.id', '=', 's.action_id')
    .where('e.signature_id', '=', signatureId)
    .where('s.status', '=', SignatureStatus.PENDING)
    .where('e.reminder_sent_at', 'is', null)
    .where('p.erased_at', 'is', null)
    .where('p.unsubscribed_at', 'is', null)
    .where('p.email', 'is not', null)
    .returning((eb) => [
      's.id',
      's.locale',
      'p.email',
      'p.data_key',
      's.receipt_sealed',
      ...SIGNUP_COLUMNS,
      eb.fn
        .coalesce(
          eb.selectFrom('action_texts').select('title').whereRef('action_id', '=', 'a.id').whereRef('locale', '=', 's.locale'),
          eb.selectFrom('action_texts').select('title').whereRef('action_id', '=', 'a.id').whereRef('locale', '=', 'a.default_locale'),
          eb.ref('a.slug'),
        )
        .as('title'),
    ])
    .executeTakeFirst();
  if (!sig || sig.email === null || sig.data_key === null) return 'lost';
  const email = open(unwrapDataKey('supporter', sig.supporter_id, sig.data_key), sig.supporter_id, 'email', sig.email);

  const member = memberMail({ ...deps, clock: () => now }, sig.supporter_id, sig.locale);
  const mail = render('reminder', sig.locale, {
    action: { title: sig.title },
    ...confirmLinkVars({ ...deps, clock: () => now }, sig.id, sig.locale, sig),
    ...member.vars,
  });
  try {
    await deps.mailer.sendMail(memberMessage(deps.mailFrom, email, mail, member, `<reminder.${sig.id}@${mailDomain(deps.mailFrom)}>`));
    return 'sent';
  } catch (err) {
    const failure = classifySendError(err);
    const reason = redactAddresses(failure.reason);
    if (failure.permanent) {
      deps.log?.warn({ signatureId: sig.id, reason }, 'reminder refused; not retried');
      return 'refused';
    }
    await qb(deps.pool).updateTable('confirmation_emails').set({ reminder_sent_at: null }).where('signature_id', '=', sig.id).where('reminder_sent_at', '=', now).execute();
    deps.log?.warn({ signatureId: sig.id, reason }, 'reminder not sent; will retry');
    return 'retry';
  }
}

// The processor of the mail queue: confirmation (and "already signed") emails, and "an official
// answered" emails. It only translates a job into a call to a server/ service, and a deferred
// confirmation (the address's email budget is used up for this window: see
// server/src/signature/confirmation.service.ts) into the same job waiting for the next window.
import { DelayedError, type Job } from 'bullmq';
import { sendAnswerNotification, type AnswerMailDeps } from '../server/src/delivery/answer.service.ts';
import { sendMemberNotice } from '../server/src/supporter/notice-mail.ts';
import type { MailJob } from '../server/src/queue/queue.ts';
import { confirmationEmailsDeferred } from '../server/src/shared/metrics.ts';
import { nextBudgetWindow, sendConfirmation, type ConfirmationBudget, type ConfirmationMailDeps } from '../server/src/signature/confirmation.service.ts';

export interface MailProcessorDeps {
  answers: AnswerMailDeps;
  confirmations: ConfirmationMailDeps & { budget: ConfirmationBudget };
  /** spread of the jobs waiting for a window, so they do not all start on its first millisecond */
  jitterMs?: number;
}

export function mailProcessor(deps: MailProcessorDeps) {
  return async (job: Job<MailJob>, token?: string) => {
    if (job.data.kind === 'answer') return sendAnswerNotification(deps.answers, job.data.notificationId);
    // the notices go out with the answers' deps: the same mailer, sender and links
    if (job.data.kind === 'notice') return sendMemberNotice(deps.answers, job.data.noticeId);
    const outcome = await sendConfirmation(deps.confirmations, job.data.signatureId);
    if (outcome !== 'deferred') return outcome;
    confirmationEmailsDeferred.inc();
    // the same job waits for the next window: no attempt is counted, and should the job be
    // lost (a flushed Redis), the sweeper finds the owed email again once the window allows
    const at = nextBudgetWindow(deps.confirmations.clock(), deps.confirmations.budget.windowMs).getTime();
    await job.moveToDelayed(at + Math.floor(Math.random() * (deps.jitterMs ?? 5_000)), token);
    throw new DelayedError();
  };
}

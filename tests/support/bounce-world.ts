// What the bounce tests share (promises 13 and 20): the in-process app, a real mailbox over
// SMTP, the real bounce endpoint on a port of its own, its log kept for the tests to read, and
// real letters: signed, confirmed, batched and delivered over SMTP by the delivery code, so each
// leaves with the return path only Chorus can make.
import nodemailer from 'nodemailer';
import { expect } from 'vitest';
import { buildBatch } from '../../server/src/delivery/batch.service.ts';
import { startBounceServer, type BounceServer } from '../../server/src/delivery/bounce.service.ts';
import { deliverLetter } from '../../server/src/letter/letter.service.ts';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox } from '../../server/src/mailbox/mailbox.service.ts';
import { createAction, createHarness, signBody, startTestMail, type Harness } from '../../server/src/testing/harness.ts';

export const DOMAIN = 'chorus.example.org';

export interface SentLetter {
  id: string;
  slug: string;
  messageId: string;
  subject: string;
  targetId: string;
  targetEmail: string;
  /** the envelope sender the letter really left with */
  returnPath: string;
}

export interface BounceWorld {
  h: Harness;
  mailbox: Mailbox;
  mailer: Mailer;
  server: BounceServer;
  /** what the bounce endpoint logged */
  logged: { level: string; obj: object; msg: string }[];
  sendLetter(): Promise<SentLetter>;
  /** Sends `raw` over SMTP to the bounce endpoint for `rcpt`; answers 'accepted' or the SMTP error. */
  sendTo(rcpt: string | string[], raw: string): Promise<string>;
  close(): Promise<void>;
}

export async function startBounceWorld(): Promise<BounceWorld> {
  const h = await createHarness();
  const { mailbox, mailer } = await startTestMail();
  const logged: BounceWorld['logged'] = [];
  const log = {
    info: (obj: object, msg: string) => void logged.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg: string) => void logged.push({ level: 'warn', obj, msg }),
  };
  const server = await startBounceServer({ port: 0, pool: h.db.pool, secret: h.secret, clock: () => new Date(), log });

  async function sendLetter(): Promise<SentLetter> {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody() })).statusCode).toBe(202);
    await h.db.pool.query(`UPDATE signatures SET status = 'CONFIRMED', confirmed_at = now() WHERE action_id = $1`, [fx.action.id]);
    const built = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: DOMAIN, countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
    const id = built!.letterIds[0]!;
    const outcome = await deliverLetter(
      {
        pool: h.db.pool,
        mailer,
        mailFrom: `Chorus <actions@${DOMAIN}>`,
        organisation: 'Chorus Test',
        staleSubmittingMs: 60_000,
        clock: () => new Date(),
        queues: { enqueueLetters: async () => {} },
        packetSecret: h.secret,
        publicBaseUrl: 'http://chorus.test',
        countryMin: h.config.PUBLIC_COUNTRY_MIN,
      },
      id,
    );
    expect(outcome).toBe('sent');
    const row = (await h.db.pool.query(`SELECT message_id FROM letters WHERE id = $1`, [id])).rows[0];
    const msg = mailbox.messages().find((m) => m.messageId === row.message_id)!;
    return {
      id,
      slug: fx.action.slug,
      messageId: row.message_id,
      subject: msg.subject ?? '',
      targetId: fx.targets[0]!.id,
      targetEmail: fx.targets[0]!.email,
      returnPath: msg.envelope.from,
    };
  }

  async function sendTo(rcpt: string | string[], raw: string): Promise<string> {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true });
    try {
      await t.sendMail({ envelope: { from: '', to: rcpt }, raw });
      return 'accepted';
    } catch (err) {
      return String((err as Error).message);
    } finally {
      t.close();
    }
  }

  return {
    h,
    mailbox,
    mailer,
    server,
    logged,
    sendLetter,
    sendTo,
    async close() {
      await server.close();
      mailer.close();
      await mailbox.close();
      await h.close();
    },
  };
}

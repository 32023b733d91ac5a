// Bounces through a real SMTP exchange: a DSN sent by nodemailer to the bounce server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { createHarness, createAction, signBody, type Harness, confirmSignatures } from '../testing/harness.ts';
import { buildBatch } from './batch.service.ts';
import { STALE_AFTER_BOUNCES, bounceAddress, parseBounce, startBounceServer, type BounceServer } from './bounce.service.ts';
import { bouncesReceived } from '../shared/metrics.ts';

/** chorus_bounces_received_total by outcome, now (compared before and after: the process is shared with other files) */
async function bounceCounts(): Promise<Record<string, number>> {
  return Object.fromEntries((await bouncesReceived.get()).values.map((v) => [String(v.labels.outcome), v.value]));
}
const grew = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).filter((k) => after[k] !== (before[k] ?? 0)).map((k) => [k, after[k]! - (before[k] ?? 0)]));

let h: Harness;
let server: BounceServer;
const log = { info: () => {}, warn: () => {} };

beforeAll(async () => {
  h = await createHarness();
  server = await startBounceServer({ port: 0, pool: h.db.pool, secret: h.secret, clock: () => new Date(), log });
});
afterAll(async () => {
  await server?.close();
  await h?.close();
});

function dsn(letterId: string, status: string, action: string): string {
  const boundary = 'dsn-boundary';
  return [
    `From: Mail Delivery System <mailer-daemon@gov.example>`,
    `To: ${bounceAddress(letterId, 'chorus.example.org', h.secret)}`,
    `Subject: Undelivered Mail Returned to Sender`,
    `MIME-Version: 1.0`,
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    ``,
    `--${boundary}`,
    `Content-Type: text/plain`,
    ``,
    `Your message could not be delivered.`,
    `--${boundary}`,
    `Content-Type: message/delivery-status`,
    ``,
    `Reporting-MTA: dns; mx.gov.example`,
    ``,
    `Final-Recipient: rfc822; minister@gov.example`,
    `Action: ${action}`,
    `Status: ${status}`,
    `Diagnostic-Code: smtp; ${status.startsWith('5') ? '550 5.1.1 user unknown' : '451 4.2.0 mailbox busy'}`,
    `--${boundary}`,
    `Content-Type: text/rfc822-headers`,
    ``,
    `Message-ID: <letter.${letterId}@chorus.example.org>`,
    `Subject: Petition`,
    `--${boundary}--`,
    ``,
  ].join('\r\n');
}

async function sentLetter() {
  const fx = await createAction(h.db);
  await h.cache.refresh();
  const body = signBody();
  await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: body });
  await confirmSignatures(h.db.pool, 's.action_id = $1', [fx.action.id]);
  const built = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
  const id = built!.letterIds[0]!;
  await h.db.pool.query(`UPDATE letters SET status = 'SENT', sent_at = now() WHERE id = $1`, [id]);
  return { id, targetId: fx.targets[0]!.id };
}

async function deliverBounce(to: string, raw: string) {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: server.port, secure: false, ignoreTLS: true });
  try {
    await t.sendMail({ envelope: { from: '', to }, raw });
  } finally {
    t.close();
  }
}

describe('parseBounce', () => {
  it('reads the letter from the return path, and the status from the report', async () => {
    const id = '0b4b7a4e-8b0f-4a43-9a37-1c6a3c3c9f00';
    expect(await parseBounce(dsn(id, '5.1.1', 'failed'), [bounceAddress(id, 'x.example', h.secret)], h.secret)).toMatchObject({
      letterId: id,
      status: '5.1.1',
      permanent: true,
    });
  });
  it('takes no letter from the Message-ID alone, nor from a return path without our MAC (anyone can write those)', async () => {
    const id = '0b4b7a4e-8b0f-4a43-9a37-1c6a3c3c9f01';
    expect(await parseBounce(dsn(id, '5.2.1', 'failed'), ['postmaster@x.example'], h.secret)).toMatchObject({ letterId: null, permanent: false, ignored: 'not_a_return_path' });
    expect(await parseBounce(dsn(id, '5.2.1', 'failed'), [`bounces+${id}@x.example`], h.secret)).toMatchObject({ permanent: false, ignored: 'unsigned' });
  });
  it('takes only a delivery status notification as a bounce: never an auto-reply or a reply (promise 13)', async () => {
    const id = '0b4b7a4e-8b0f-4a43-9a37-1c6a3c3c9f03';
    const to = [bounceAddress(id, 'x.example', h.secret)];
    const plain = (headers: string[], body: string) => [...headers, 'Content-Type: text/plain', '', body, ''].join('\r\n');
    expect(await parseBounce(plain(['Subject: Out of office', 'Auto-Submitted: auto-replied'], 'Back on Monday.'), to, h.secret)).toMatchObject({
      letterId: id,
      permanent: false,
      ignored: 'auto_reply',
    });
    expect(await parseBounce(plain(['Subject: Re: Petition'], 'Status: 5.1.1\r\nAction: failed'), to, h.secret)).toMatchObject({ permanent: false, ignored: 'not_a_report' });
    // the report's part may come base64-encoded, and its headers folded
    const encoded = dsn(id, '5.1.1', 'failed').replace(
      /Content-Type: message\/delivery-status\r\n\r\n([\s\S]*?)\r\n--dsn-boundary/,
      (_, part: string) => `Content-Type:\r\n message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(part).toString('base64')}\r\n--dsn-boundary`,
    );
    expect(encoded).not.toContain('Status: 5.1.1');
    expect(await parseBounce(encoded, to, h.secret)).toMatchObject({ letterId: id, status: '5.1.1', permanent: true, ignored: null });
  });
  it('treats delays as warnings, not bounces', async () => {
    const id = '0b4b7a4e-8b0f-4a43-9a37-1c6a3c3c9f02';
    expect((await parseBounce(dsn(id, '4.2.0', 'delayed'), [bounceAddress(id, 'x.example', h.secret)], h.secret)).permanent).toBe(false);
  });
});

describe('the bounce server', () => {
  it('marks the right letter bounced, once, and flags the contact stale after repeated bounces', async () => {
    const letters = [];
    for (let i = 0; i < STALE_AFTER_BOUNCES; i++) letters.push(await sentLetter());
    // make all three letters go to the same target
    const targetId = letters[0]!.targetId;
    await h.db.pool.query(`UPDATE letters SET target_id = $1 WHERE id = ANY($2::uuid[])`, [targetId, letters.map((l) => l.id)]);

    const before = await bounceCounts();
    for (const [i, l] of letters.entries()) {
      await deliverBounce(bounceAddress(l.id, 'chorus.example.org', h.secret), dsn(l.id, '5.1.1', 'failed'));
      // the same bounce twice counts once
      if (i === 0) await deliverBounce(bounceAddress(l.id, 'chorus.example.org', h.secret), dsn(l.id, '5.1.1', 'failed'));
      const { rows } = await h.db.pool.query(`SELECT status, last_error FROM letters WHERE id = $1`, [l.id]);
      expect(rows[0]).toMatchObject({ status: 'BOUNCED', last_error: expect.stringContaining('5.1.1') });
      const target = (await h.db.pool.query(`SELECT bounce_count, contact_status FROM targets WHERE id = $1`, [targetId])).rows[0];
      expect(target).toEqual({ bounce_count: i + 1, contact_status: i + 1 >= STALE_AFTER_BOUNCES ? 'STALE' : 'OK' });
    }
    // counted where they were received: each letter once, the repeat as a duplicate
    expect(grew(before, await bounceCounts())).toEqual({ bounced: STALE_AFTER_BOUNCES, duplicate: 1 });
  });

  it('leaves a letter sent when the report is only a delay', async () => {
    const l = await sentLetter();
    const before = await bounceCounts();
    await deliverBounce(bounceAddress(l.id, 'chorus.example.org', h.secret), dsn(l.id, '4.2.0', 'delayed'));
    expect((await h.db.pool.query(`SELECT status FROM letters WHERE id = $1`, [l.id])).rows[0].status).toBe('SENT');
    expect(grew(before, await bounceCounts())).toEqual({ not_permanent: 1 });
    // a reply that reached a return path is counted as what it is, not as a bounce
    await deliverBounce(bounceAddress(l.id, 'chorus.example.org', h.secret), ['Subject: Out of office', 'Auto-Submitted: auto-replied', 'Content-Type: text/plain', '', 'Back on Monday.', ''].join('\r\n'));
    expect(grew(before, await bounceCounts())).toEqual({ not_permanent: 1, auto_reply: 1 });
  });

  it('refuses mail for anything but a return path', async () => {
    await expect(deliverBounce('someone@chorus.example.org', 'Subject: hi\r\n\r\nhello')).rejects.toThrow(/550/);
  });
});

// Promise 13: a bounce or an answer is recorded against the right letter only. Tried as a
// ministry's mail system would try it without meaning to: real letters go out over SMTP with
// their real return paths (bounces+<letter id>.<mac>@...), and what comes back to those return
// paths over SMTP is not only delivery status notifications. Out-of-office and other automatic
// replies (RFC 3834 headers, or only a subject in the official's language) and a person's
// plain reply reach the same address. None of them says the letter was not delivered, so none
// may mark it BOUNCED or count toward the official's contact going STALE. Only a real delivery
// status notification (multipart/report; report-type=delivery-status, a recipient with
// Action: failed and a 5.x.x Status) does, once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STALE_AFTER_BOUNCES } from '../../server/src/delivery/bounce.service.ts';
import type { Harness } from '../../server/src/testing/harness.ts';
import { startBounceWorld, type BounceWorld, type SentLetter } from '../support/bounce-world.ts';

let world: BounceWorld;
let h: Harness;
let logged: BounceWorld['logged'];
let sendLetter: BounceWorld['sendLetter'];
let sendTo: BounceWorld['sendTo'];

beforeAll(async () => {
  world = await startBounceWorld();
  ({ h, logged, sendLetter, sendTo } = world);
});
afterAll(async () => {
  await world?.close();
});

const utf8Subject = (s: string) => `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;

/** A reply from the official's side to the letter's return path, with `headers` and a plain body. */
function reply(l: SentLetter, headers: string[], body = 'I am out of the office until Monday and will read your message on my return.'): string {
  return [
    `From: Minister <${l.targetEmail}>`,
    `To: ${l.returnPath}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <reply.${Math.random().toString(36).slice(2)}@gov.example>`,
    `In-Reply-To: ${l.messageId}`,
    `References: ${l.messageId}`,
    `MIME-Version: 1.0`,
    ...headers,
    `Content-Type: text/plain; charset=utf-8`,
    ``,
    body,
    ``,
  ].join('\r\n');
}

/** A delivery status notification about `l`, as a receiving MTA sends it. */
function dsn(l: SentLetter, opts: { status?: string; action?: string; extraHeaders?: string[] } = {}): string {
  const status = opts.status ?? '5.1.1';
  const b = 'dsn-boundary';
  return [
    `From: Mail Delivery System <MAILER-DAEMON@gov.example>`,
    `To: ${l.returnPath}`,
    `Subject: Undelivered Mail Returned to Sender`,
    ...(opts.extraHeaders ?? []),
    `MIME-Version: 1.0`,
    `Content-Type: multipart/report; report-type=delivery-status;`,
    `\tboundary="${b}"`,
    ``,
    `--${b}`,
    `Content-Type: text/plain`,
    ``,
    `Your message could not be delivered.`,
    `--${b}`,
    `Content-Type: message/delivery-status`,
    ``,
    `Reporting-MTA: dns; mx.gov.example`,
    ``,
    `Final-Recipient: rfc822; ${l.targetEmail}`,
    `Action: ${opts.action ?? 'failed'}`,
    `Status: ${status}`,
    `Diagnostic-Code: smtp; 550 ${status} <${l.targetEmail}>:`,
    `    user unknown`,
    `--${b}`,
    `Content-Type: text/rfc822-headers`,
    ``,
    `Message-ID: ${l.messageId}`,
    `Subject: ${l.subject}`,
    `--${b}--`,
    ``,
  ].join('\r\n');
}

async function stateOf(l: SentLetter) {
  const letter = (await h.db.pool.query(`SELECT status, bounced_at FROM letters WHERE id = $1`, [l.id])).rows[0];
  const target = (await h.db.pool.query(`SELECT bounce_count, contact_status FROM targets WHERE id = $1`, [l.targetId])).rows[0];
  return { status: letter.status, bouncedAt: letter.bounced_at, bounceCount: target.bounce_count, contact: target.contact_status };
}

const untouched = { status: 'SENT', bouncedAt: null, bounceCount: 0, contact: 'OK' };

/** What reaches a letter's return path that is not a bounce, by what gives it away. */
const notBounces: [string, (l: SentLetter) => string][] = [
  ['Auto-Submitted: auto-replied (RFC 3834), "Automatic reply:"', (l) => reply(l, [`Subject: Automatic reply: ${l.subject}`, 'Auto-Submitted: auto-replied'])],
  ['X-Autoreply, "Out of office"', (l) => reply(l, [`Subject: Out of office: ${l.subject}`, 'X-Autoreply: yes'])],
  ['X-Autorespond', (l) => reply(l, [`Subject: Re: ${l.subject}`, 'X-Autorespond: Auto-reply'])],
  ['Precedence: auto_reply', (l) => reply(l, [`Subject: Re: ${l.subject}`, 'Precedence: auto_reply'])],
  ['Precedence: bulk', (l) => reply(l, [`Subject: Re: ${l.subject}`, 'Precedence: bulk'])],
  ['Precedence: junk', (l) => reply(l, [`Subject: Re: ${l.subject}`, 'Precedence: junk'])],
  ['only a subject: Abwesenheitsnotiz', (l) => reply(l, [`Subject: Abwesenheitsnotiz: ${l.subject}`])],
  ['only a subject: Réponse automatique', (l) => reply(l, [`Subject: ${utf8Subject(`Réponse automatique : ${l.subject}`)}`])],
  ['only a subject: Respuesta automática', (l) => reply(l, [`Subject: ${utf8Subject(`Respuesta automática: ${l.subject}`)}`])],
  ['only a subject: Автоответ', (l) => reply(l, [`Subject: ${utf8Subject(`Автоответ: ${l.subject}`)}`])],
  ['a person’s plain reply', (l) => reply(l, [`Subject: Re: ${l.subject}`], 'Thank you. The ministry has received your letter and will answer in due course.')],
  [
    'a person’s reply quoting a bounce (Action: failed, Status: 5.1.1 in its text)',
    (l) => reply(l, [`Subject: Fwd: Undelivered Mail Returned to Sender`], 'Is this yours?\r\n\r\n> Action: failed\r\n> Status: 5.1.1\r\nAction: failed\r\nStatus: 5.1.1\r\n'),
  ],
  [
    'a delivery report whose fields are one group (no blank line between the report’s own fields and a recipient’s)',
    (l) => dsn(l).replace('Reporting-MTA: dns; mx.gov.example\r\n\r\n', 'Reporting-MTA: dns; mx.gov.example\r\n'),
  ],
  [
    'a delivery report whose status is no status code (5.1.1x)',
    (l) => dsn(l, { status: '5.1.1x' }),
  ],
  [
    'a delivery report without the reporting server (Reporting-MTA)',
    (l) => dsn(l).replace('Reporting-MTA: dns; mx.gov.example\r\n', 'X-Note: none\r\n'),
  ],
  [
    'a delivery report whose failed recipient has no Final-Recipient',
    (l) => dsn(l).replace(`Final-Recipient: rfc822; ${l.targetEmail}\r\n`, ''),
  ],
  [
    'a read receipt (multipart/report; report-type=disposition-notification)',
    (l) =>
      [
        `From: Minister <${l.targetEmail}>`,
        `To: ${l.returnPath}`,
        `Subject: Read: ${l.subject}`,
        `MIME-Version: 1.0`,
        `Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"`,
        ``,
        `--mdn`,
        `Content-Type: text/plain`,
        ``,
        `Your message was read.`,
        `--mdn`,
        `Content-Type: message/disposition-notification`,
        ``,
        `Final-Recipient: rfc822; ${l.targetEmail}`,
        `Original-Message-ID: ${l.messageId}`,
        `Disposition: manual-action/MDN-sent-manually; displayed`,
        `--mdn--`,
        ``,
      ].join('\r\n'),
  ],
];

describe('what is not a delivery status notification never bounces a letter', () => {
  for (const [what, make] of notBounces) {
    it(what, async () => {
      const l = await sendLetter();
      expect(await sendTo(l.returnPath, make(l))).toBe('accepted');
      // a repeat (auto-responders answer again) changes nothing either
      expect(await sendTo(l.returnPath, make(l))).toBe('accepted');
      expect(await stateOf(l)).toEqual(untouched);
    });
  }

  it(`${STALE_AFTER_BOUNCES} out-of-office replies to ${STALE_AFTER_BOUNCES} letters to one official leave the contact working`, async () => {
    const letters: SentLetter[] = [];
    for (let i = 0; i < STALE_AFTER_BOUNCES; i++) letters.push(await sendLetter());
    const targetId = letters[0]!.targetId;
    await h.db.pool.query(`UPDATE letters SET target_id = $1 WHERE id = ANY($2::uuid[])`, [targetId, letters.map((l) => l.id)]);
    for (const l of letters) {
      expect(await sendTo(l.returnPath, reply(l, [`Subject: Automatic reply: ${l.subject}`, 'Auto-Submitted: auto-replied', 'X-Auto-Response-Suppress: All']))).toBe('accepted');
    }
    for (const l of letters) expect(await stateOf({ ...l, targetId })).toEqual(untouched);
  });

  it('each is logged as not a bounce, with the letter id and what it was, and no address or subject', async () => {
    const lines = logged.filter((l) => l.msg.startsWith('not a bounce'));
    expect(new Set(lines.map((l) => (l.obj as { reason: string }).reason))).toEqual(new Set(['auto_reply', 'not_a_report']));
    for (const line of lines) expect(Object.keys(line.obj).sort()).toEqual(['letterId', 'reason']);
    for (const line of logged) expect(JSON.stringify(line)).not.toMatch(/@|gov\.example|Subject|office|Автоответ/i);
    expect(logged.filter((l) => l.msg === 'bounce received')).toEqual([]);
  });
});

describe('a real delivery status notification still bounces its letter', () => {
  it('a permanent failure (Action: failed, 5.x.x) marks the letter BOUNCED, once, even with the Auto-Submitted header MTAs put on bounces', async () => {
    const l = await sendLetter();
    // an out-of-office reply first: still SENT
    expect(await sendTo(l.returnPath, reply(l, [`Subject: Automatic reply: ${l.subject}`, 'Auto-Submitted: auto-replied']))).toBe('accepted');
    expect((await stateOf(l)).status).toBe('SENT');
    const bounce = dsn(l, { extraHeaders: ['Auto-Submitted: auto-replied'] });
    expect(await sendTo(l.returnPath, bounce)).toBe('accepted');
    expect(await sendTo(l.returnPath, bounce)).toBe('accepted');
    expect(await stateOf(l)).toMatchObject({ status: 'BOUNCED', bouncedAt: expect.any(Date), bounceCount: 1 });
  });

  it('a delay or a 4.x.x status does not, nor a failed action with a 4.x.x status', async () => {
    for (const opts of [{ status: '4.2.0', action: 'delayed' }, { status: '4.4.7', action: 'failed' }, { status: '2.0.0', action: 'delivered' }]) {
      const l = await sendLetter();
      expect(await sendTo(l.returnPath, dsn(l, opts))).toBe('accepted');
      expect(await stateOf(l), JSON.stringify(opts)).toEqual(untouched);
    }
  });
});

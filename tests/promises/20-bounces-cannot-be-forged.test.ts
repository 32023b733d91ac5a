// Promises 13 and 20: a bounce is recorded against the right letter only, and bounce handling
// cannot be forged by a third party. Tried as an attacker would: real letters are sent over
// SMTP to a real mailbox, then delivery status notifications are sent over SMTP to the real
// bounce endpoint, for return paths an attacker can know (the letter id is in its Message-ID,
// its headers and on the public ledger) or make up. Only the return path the letter really
// left with marks it bounced; everything else leaves the public ledger untouched and is
// logged without addresses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bounceAddress } from '../../server/src/delivery/bounce.service.ts';
import type { Harness } from '../../server/src/testing/harness.ts';
import { DOMAIN, startBounceWorld, type BounceWorld, type SentLetter } from '../support/bounce-world.ts';

let world: BounceWorld;
let h: Harness;
let logged: BounceWorld['logged'];
let sendLetter: BounceWorld['sendLetter'];
let sendDsn: BounceWorld['sendTo'];

beforeAll(async () => {
  world = await startBounceWorld();
  ({ h, logged, sendLetter, sendTo: sendDsn } = world);
});
afterAll(async () => {
  await world?.close();
});

function dsn(to: string, original: { messageId: string; recipient: string }, status = '5.1.1'): string {
  const b = 'dsn-boundary';
  return [
    `From: Mail Delivery System <mailer-daemon@gov.example>`,
    `To: ${to}`,
    `Subject: Undelivered Mail Returned to Sender`,
    `MIME-Version: 1.0`,
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
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
    `Final-Recipient: rfc822; ${original.recipient}`,
    `Original-Recipient: rfc822; ${original.recipient}`,
    `Action: failed`,
    `Status: ${status}`,
    `Diagnostic-Code: smtp; 550 ${status} <${original.recipient}> user unknown`,
    `--${b}`,
    `Content-Type: text/rfc822-headers`,
    ``,
    `Message-ID: ${original.messageId}`,
    `X-Chorus-Letter: ${original.messageId.replace(/^<letter\.|@.*$/g, '')}`,
    `Subject: Petition`,
    `--${b}--`,
    ``,
  ].join('\r\n');
}


async function statusOf(id: string): Promise<string> {
  return (await h.db.pool.query(`SELECT status FROM letters WHERE id = $1`, [id])).rows[0].status;
}

async function ledgerOf(slug: string) {
  await h.cache.refresh();
  const res = await h.app.inject({ url: `/api/actions/${slug}` });
  expect(res.statusCode).toBe(200);
  return res.json().ledger as { bounced: boolean; status: string }[];
}

const original = (l: SentLetter) => ({ messageId: l.messageId, recipient: l.targetEmail });

describe('a letter leaves with a return path no one else can make', () => {
  it('names the letter and carries a MAC, not just the id everyone can read', async () => {
    const l = await sendLetter();
    expect(l.returnPath).toBe(bounceAddress(l.id, DOMAIN, h.secret));
    expect(l.returnPath).toMatch(new RegExp(`^bounces\\+${l.id}\\.[0-9a-f]{16}@${DOMAIN.replace(/\./g, '\\.')}$`));
    // the local part stays within SMTP's 64 characters
    expect(l.returnPath.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(bounceAddress(l.id, DOMAIN, 'another-secret-another-secret-0123456789')).not.toBe(l.returnPath);
  });
});

describe('forged bounces leave the letter delivered on the public ledger', () => {
  it('the return path without a MAC (what every letter id gives away, and what letters carried before)', async () => {
    const l = await sendLetter();
    const forged = `bounces+${l.id}@${DOMAIN}`;
    // accepted and ignored: the answer teaches the forger nothing
    expect(await sendDsn(forged, dsn(forged, original(l)))).toBe('accepted');
    expect(await statusOf(l.id)).toBe('SENT');
    expect((await ledgerOf(l.slug))[0]).toMatchObject({ bounced: false, status: 'SENT' });
  });

  it('made-up, truncated, padded, shifted-case and other letters’ MACs', async () => {
    const l = await sendLetter();
    const other = await sendLetter();
    const mac = /\.([0-9a-f]{16})@/.exec(l.returnPath)![1]!;
    const otherMac = /\.([0-9a-f]{16})@/.exec(other.returnPath)![1]!;
    const flip = (s: string) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0');
    const attempts = [
      `bounces+${l.id}.${otherMac}@${DOMAIN}`,
      `bounces+${l.id}.${'0'.repeat(16)}@${DOMAIN}`,
      `bounces+${l.id}.${flip(mac)}@${DOMAIN}`,
      `bounces+${l.id}.${mac.slice(0, 15)}@${DOMAIN}`,
      `bounces+${l.id}.${mac.slice(0, 8)}@${DOMAIN}`,
      `bounces+${l.id}.${mac}0@${DOMAIN}`,
      `bounces+${l.id}.@${DOMAIN}`,
      `bounces+${l.id}.${mac.slice(0, 8)}${'z'.repeat(8)}@${DOMAIN}`,
      `BOUNCES+${l.id.toUpperCase()}.${flip(mac).toUpperCase()}@${DOMAIN}`,
      `bounces+${l.id}.${mac}@evil.example`.replace(mac, flip(mac)),
    ];
    for (const rcpt of attempts) {
      const answer = await sendDsn(rcpt, dsn(rcpt, original(l)));
      // a malformed one may be refused at RCPT; none may count
      expect([answer, await statusOf(l.id)], rcpt).toEqual([expect.stringMatching(/^accepted$|550/), 'SENT']);
    }
    expect((await ledgerOf(l.slug))[0]).toMatchObject({ bounced: false });
  });

  it('a DSN to any other address naming the letter by Message-ID, recipient and header', async () => {
    const l = await sendLetter();
    for (const rcpt of [`postmaster@${DOMAIN}`, `bounces@${DOMAIN}`, `bounces-${l.id}@${DOMAIN}`, `letter.${l.id}@${DOMAIN}`]) {
      expect(await sendDsn(rcpt, dsn(rcpt, original(l)))).toMatch(/550/);
    }
    expect(await statusOf(l.id)).toBe('SENT');
  });

  it('an official’s own (valid) return path cannot bounce another letter', async () => {
    const mine = await sendLetter();
    const victim = await sendLetter();
    // the DSN names the victim's letter in its original headers
    expect(await sendDsn(mine.returnPath, dsn(mine.returnPath, original(victim)))).toBe('accepted');
    expect(await statusOf(victim.id)).toBe('SENT');
    expect(await statusOf(mine.id)).toBe('SENT');
    // nor does adding the victim's unsigned return path beside one's own
    expect(await sendDsn([mine.returnPath, `bounces+${victim.id}@${DOMAIN}`], dsn(mine.returnPath, original(victim)))).toBe('accepted');
    expect(await statusOf(victim.id)).toBe('SENT');
  });

  it('every ignored report is logged with its reason, and no log line carries an address', async () => {
    const ignored = logged.filter((l) => l.msg.startsWith('bounce ignored'));
    const reasons = new Set(ignored.map((l) => (l.obj as { reason: string }).reason));
    expect([...reasons].sort()).toEqual(['bad_mac', 'message_id_mismatch', 'unsigned']);
    for (const line of logged) expect(JSON.stringify(line)).not.toMatch(/@|gov\.example/);
  });
});

describe('a real bounce still counts', () => {
  it('the DSN to the return path the letter left with marks that letter bounced, once', async () => {
    const l = await sendLetter();
    expect(await sendDsn(l.returnPath, dsn(l.returnPath, original(l)))).toBe('accepted');
    expect(await statusOf(l.id)).toBe('BOUNCED');
    expect((await ledgerOf(l.slug))[0]).toMatchObject({ bounced: true, status: 'BOUNCED' });
  });

  it('… also when a receiving server changed the case of the return path', async () => {
    const l = await sendLetter();
    const upper = l.returnPath.replace(/^[^@]+/, (local) => local.toUpperCase());
    expect(await sendDsn(upper, dsn(upper, original(l)))).toBe('accepted');
    expect(await statusOf(l.id)).toBe('BOUNCED');
  });
});

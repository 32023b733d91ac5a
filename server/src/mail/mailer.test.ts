import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Coalesce, classifySendError, createMailer, smtpOutcome } from './mailer.ts';

async function chunksOut(input: (Buffer | string)[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of Readable.from(input).pipe(new Coalesce())) out.push(c as Buffer);
  return out;
}

describe('Coalesce (a message leaves in few chunks)', () => {
  it('gathers many small chunks into one, byte for byte', async () => {
    const parts = Array.from({ length: 40 }, (_, i) => (i % 2 ? Buffer.from(`Header-${i}: ü\r\n`) : `line ${i} — é\r\n`));
    const out = await chunksOut(parts);
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p)))))).toBe(true);
  });

  it('lets a large message go in chunks of about 64 KiB, not held whole', async () => {
    const parts = Array.from({ length: 100 }, (_, i) => Buffer.alloc(4096, i));
    const out = await chunksOut(parts);
    expect(out.length).toBe(7);
    expect(out.slice(0, -1).every((c) => c.length === 65536)).toBe(true);
    expect(Buffer.concat(out).equals(Buffer.concat(parts))).toBe(true);
  });

  it('passes an empty message as nothing', async () => {
    expect(await chunksOut([])).toEqual([]);
  });
});

describe('createMailer', () => {
  it('parses the DKIM key once: the transport signs with a key object, not PEM text OpenSSL would parse for every message', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const mailer = createMailer({ smtpUrl: 'smtp://127.0.0.1:9?tls=off', dkim: { domainName: 'chorus.test', keySelector: 's1', privateKey: pem } });
    try {
      // what nodemailer's signer is handed for each message (dkim.test.ts verifies real signed mail)
      const key = (mailer as unknown as { dkim: { keys: { privateKey: unknown }[] } }).dkim.keys[0]!.privateKey;
      expect(key).toBeInstanceOf(KeyObject);
      expect((key as KeyObject).type).toBe('private');
      expect((key as KeyObject).export({ type: 'pkcs8', format: 'pem' }).toString()).toBe(pem);
    } finally {
      mailer.close();
    }
  });
});

describe('classifySendError', () => {
  it('treats SMTP 5xx as permanent', () => {
    expect(classifySendError({ responseCode: 550, response: '550 5.1.1 no such user' })).toEqual({ permanent: true, reason: '550 550 5.1.1 no such user' });
  });
  it('retries SMTP 4xx', () => {
    expect(classifySendError({ responseCode: 451, response: '451 try later' }).permanent).toBe(false);
  });
  it('retries network errors and timeouts', () => {
    expect(classifySendError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }).permanent).toBe(false);
    expect(classifySendError({ code: 'ETIMEDOUT', message: 'Greeting never received' }).permanent).toBe(false);
  });
  it('treats a refused envelope without a server reply as permanent', () => {
    expect(classifySendError({ code: 'EENVELOPE', message: 'No recipients defined' }).permanent).toBe(true);
  });
});

describe('smtpOutcome (the chorus_smtp_sends_total class of a failed send)', () => {
  it.each([
    [{ responseCode: 550, response: '550 5.1.1 no such user' }, 'permanent_failure'],
    [{ responseCode: 554, code: 'EENVELOPE', response: '554 rejected' }, 'permanent_failure'],
    [{ responseCode: 451, response: '451 try later' }, 'temporary_failure'],
    [{ responseCode: 421, code: 'EPROTOCOL', response: '421 too many connections' }, 'temporary_failure'],
    [{ code: 'EENVELOPE', message: 'No recipients defined' }, 'permanent_failure'],
    [{ code: 'ECONNECTION', message: 'connect ECONNREFUSED 127.0.0.1:25' }, 'timeout_connection'],
    [{ code: 'ETIMEDOUT', message: 'Greeting never received' }, 'timeout_connection'],
    [{ code: 'ESOCKET', message: 'read ECONNRESET' }, 'timeout_connection'],
    [{ code: 'EMESSAGE', message: 'something odd' }, 'temporary_failure'],
  ])('%j is %s', (err, outcome) => {
    expect(smtpOutcome(err)).toBe(outcome);
  });
});

// DKIM: emails sent through the platform's mailer (a letter, a confirmation, an answer, a "my data"
// link) verify with mailauth against the record `npm run dns` prints, looked up through node's
// resolver in a DNS server on 127.0.0.1 that serves exactly the printed zone-file lines; a changed
// body or header does not. The key: generated once and reused, the environment's first, a bad one
// refused at start with one line. `npm run dns -- --check` says what is missing or wrong.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildProcesses } from '../../bin/build-processes.mjs';
import { DEFAULT_DKIM_SELECTOR, dkimKeyFile, ensureDkimKey, generateDkimKey } from '../../bin/dkim-key.mjs';
import { startDnsServer, type DnsServer } from '../../../tests/support/dns-server.ts';
import { ConfigError, loadConfig } from '../config/config.ts';
import { owedAnswerNotifications, sendAnswerNotification } from '../delivery/answer.service.ts';
import { buildBatch } from '../delivery/batch.service.ts';
import { packetToken } from '../delivery/packet.service.ts';
import { deliverLetter } from '../letter/letter.service.ts';
import type { Mailbox, StoredMessage } from '../mailbox/mailbox.service.ts';
import { sendConfirmation } from '../signature/confirmation.service.ts';
import {
  asStaff,
  confirmSignatures,
  createAction,
  createHarness,
  letterConfig,
  signBody,
  staffSession,
  startTestMail,
  uniqueEmail,
  type Harness,
} from '../testing/harness.ts';
import { dkimPublicKey } from './dkim.ts';
import { runBuiltProcess } from '../../../tests/support/built-process.ts';
import { mailSigning, type Mailer } from './mailer.ts';
import { indexOfEmail } from '../testing/sealed.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIL_FROM = 'Chorus <actions@chorus.example.org>';
const run = promisify(execFile);

/** `npm run dns` with these variables over the environment: what it prints, and its exit code. */
async function npmRunDns(env: Record<string, string>, args: string[] = []): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '-s', 'dns', '--', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/**
 * Zone-file lines as a name server reads them: `<absolute name>. <ttl> IN TXT "<string>" ...`,
 * each character string at most 255 bytes; comments and blank lines skipped. Throws on any other line.
 */
function parseZone(text: string): Map<string, string[][]> {
  const records = new Map<string, string[][]>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith(';')) continue;
    const m = /^(\S+)\.\s+(\d+)\s+IN\s+TXT\s+((?:"(?:[^"\\]|\\.)*"\s*)+)$/.exec(line);
    if (!m) throw new Error(`not a zone-file TXT line: ${line}`);
    const strings = [...m[3]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((s) => s[1]!.replace(/\\(.)/g, '$1'));
    for (const s of strings) if (Buffer.byteLength(s, 'latin1') > 255) throw new Error(`a character string over 255 bytes: ${line}`);
    const name = m[1]!.toLowerCase();
    records.set(name, [...(records.get(name) ?? []), strings]);
  }
  return records;
}

/** A TXT record's text as the character strings of at most 255 bytes a record carries. */
const strings = (text: string) => text.match(/.{1,255}/g)!;

const resolverOf = (dns: DnsServer) => {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([dns.address]);
  return r;
};

/** mailauth's verdict on a raw message, its key looked up in `dns`. */
async function verify(raw: string, dns: DnsServer) {
  const resolver = resolverOf(dns);
  const result = await dkimVerify(raw, { resolver: (name: string, type: string) => resolver.resolve(name, type as 'TXT') as Promise<string[][]> });
  return result.results;
}

function expectPass(results: Awaited<ReturnType<typeof verify>>, selector: string) {
  expect(results).toHaveLength(1);
  expect(results[0]).toMatchObject({ status: { result: 'pass', aligned: 'chorus.example.org' }, signingDomain: 'chorus.example.org', selector });
}

describe('every email verifies against the record `npm run dns` prints', () => {
  let h: Harness;
  let mailbox: Mailbox;
  let mailer: Mailer;
  let dns: DnsServer;
  let selector: string;

  beforeAll(async () => {
    ({ mailbox, mailer } = await startTestMail());
    // the app sends "my data" links with the mailer it makes from the configuration, as the server does
    h = await createHarness({ env: { SMTP_URL: `smtp://127.0.0.1:${mailbox.smtpPort}?tls=off`, MAIL_FROM } });
    selector = h.config.DKIM_SELECTOR;
    const printed = await npmRunDns({ MAIL_FROM, DKIM_PRIVATE_KEY: h.config.DKIM_PRIVATE_KEY!, DKIM_SELECTOR: selector });
    expect(printed.code).toBe(0);
    dns = await startDnsServer(parseZone(printed.stdout));
  });
  afterAll(async () => {
    mailer?.close();
    await mailbox?.close();
    await h?.close();
    await dns?.close();
  });
  beforeEach(() => mailbox.clear());

  const confirmationDeps = () => ({ pool: h.db.pool, mailer, secret: h.secret, clock: () => new Date(), confirmLinkTtlHours: 24, publicBaseUrl: 'http://chorus.test', mailFrom: MAIL_FROM });

  async function sentLetter(): Promise<{ message: StoredMessage; letterId: string; actionId: string }> {
    const target = `minister.${Date.now()}@gov.example`;
    const fx = await createAction(h.db, { kind: 'LETTER', targets: [{ country: null, language: 'en', email: target }] });
    await h.cache.refresh();
    const email = uniqueEmail('dkimletter');
    const res = await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email, consentNamed: true, consentContact: true, letterBody: 'Please act — ça presse.' }) });
    expect(res.statusCode).toBe(202);
    await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    const built = await buildBatch({ pool: h.db.pool, queues: { enqueueLetters: async () => {} }, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'dkim');
    const letterId = built!.letterIds[0]!;
    const outcome = await deliverLetter(
      { pool: h.db.pool, mailer, mailFrom: MAIL_FROM, organisation: 'Chorus Test', staleSubmittingMs: 60_000, clock: () => new Date(), queues: { enqueueLetters: async () => {} }, random: () => 1, ...letterConfig(h) },
      letterId,
    );
    expect(outcome).toBe('sent');
    const message = mailbox.messages().find((m) => m.envelope.to.includes(target));
    expect(message).toBeDefined();
    return { message: message!, letterId, actionId: fx.action.id };
  }

  it('a letter to an official passes, signed for MAIL_FROM with the selector; a changed body or subject fails', async () => {
    const { message } = await sentLetter();
    expect(message.headers['dkim-signature']).toMatch(/a=rsa-sha256; c=relaxed\/relaxed; d=chorus\.example\.org;/);
    expectPass(await verify(message.raw, dns), selector);

    // one letter of the body changed on the way
    const [head, ...body] = message.raw.split('\r\n\r\n');
    const tamperedBody = [head, body.join('\r\n\r\n').replace(/[a-z]/, (c) => (c === 'x' ? 'y' : 'x'))].join('\r\n\r\n');
    expect(tamperedBody).not.toBe(message.raw);
    const bodyResult = await verify(tamperedBody, dns);
    expect(bodyResult[0]!.status.result).not.toBe('pass');
    expect(bodyResult[0]!.status.comment).toMatch(/body hash/i);

    // a signed header changed
    const tamperedSubject = message.raw.replace(/^Subject: /m, 'Subject: Re: ');
    expect((await verify(tamperedSubject, dns))[0]!.status.result).toBe('fail');
  });

  it('the record of another key does not verify it', async () => {
    const { message } = await sentLetter();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const elsewhere = await startDnsServer(new Map([[`${selector}._domainkey.chorus.example.org`, [strings(`v=DKIM1; k=rsa; p=${dkimPublicKey(other)}`)]]]));
    try {
      expect((await verify(message.raw, elsewhere))[0]!.status.result).toBe('fail');
    } finally {
      await elsewhere.close();
    }
  });

  it('a confirmation email passes', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('dkimconfirm');
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email }) })).statusCode).toBe(202);
    const { rows } = await h.db.pool.query<{ id: string }>(`SELECT s.id FROM signatures s JOIN supporters p ON p.id = s.supporter_id WHERE p.email_index = $1`, [indexOfEmail(email)]);
    expect(await sendConfirmation(confirmationDeps(), rows[0]!.id)).toBe('sent');
    const [m] = mailbox.messages();
    expect(m!.envelope.to).toEqual([email]);
    // List-Unsubscribe and its One-Click are among the signed headers (RFC 8058)
    expect(m!.headers['dkim-signature']).toMatch(/h=[^;]*list-unsubscribe:list-unsubscribe-post/);
    expectPass(await verify(m!.raw, dns), selector);
  });

  it('an answer email passes', async () => {
    const { letterId, actionId } = await sentLetter();
    mailbox.clear();
    const campaigner = await staffSession(h.db, 'CAMPAIGNER');
    const token = packetToken(h.secret, letterId, new Date());
    expect((await h.app.inject({ method: 'POST', url: `/api/packets/${token}/responses`, payload: { body: 'We will consider it.' } })).statusCode).toBeLessThan(300);
    const list = await asStaff(h.app, campaigner.cookie, { method: 'GET', url: `/api/admin/answers?action=${actionId}` });
    const answerId = list.json().answers[0].id as string;
    const published = await asStaff(h.app, campaigner.cookie, { method: 'POST', url: `/api/admin/answers/${answerId}/publish` });
    expect(published.json()).toMatchObject({ status: 'PUBLISHED', notificationsOwed: 1 });
    const owed = await owedAnswerNotifications(h.db.pool, new Date(Date.now() + 60_000));
    const { rows } = await h.db.pool.query<{ id: string }>(`SELECT id FROM answer_notifications WHERE answer_id = $1`, [answerId]);
    expect(owed).toContain(rows[0]!.id);
    expect(await sendAnswerNotification({ pool: h.db.pool, mailer, secret: h.secret, clock: () => new Date(), publicBaseUrl: 'http://chorus.test', mailFrom: MAIL_FROM }, rows[0]!.id)).toBe('sent');
    const [m] = mailbox.messages();
    expect(m!.messageId).toMatch(/^<answer\./);
    expectPass(await verify(m!.raw, dns), selector);
  });

  it('a "my data" link, sent by the mailer the app makes from the configuration, passes', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('dkimdata');
    expect((await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ email }) })).statusCode).toBe(202);
    await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    mailbox.clear();
    expect((await h.app.inject({ method: 'POST', url: '/api/my-data/requests', payload: { email } })).statusCode).toBe(202);
    await expect.poll(() => mailbox.messages().filter((m) => m.envelope.to.includes(email)).length, { timeout: 10_000 }).toBe(1);
    const m = mailbox.messages().find((x) => x.envelope.to.includes(email))!;
    expectPass(await verify(m.raw, dns), selector);
  });
});

describe('the key', () => {
  it('is generated once, readable by its owner only, and the same key after that', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-dkim-'));
    try {
      const first = ensureDkimKey(dir, 'chorus2099');
      expect(first).toMatchObject({ generated: true, file: dkimKeyFile(dir, 'chorus2099') });
      expect(statSync(first.file).mode & 0o777).toBe(0o600);
      expect(loadConfig({ SECRET_KEY: 'k'.repeat(40), DKIM_PRIVATE_KEY: first.pem }).DKIM_PRIVATE_KEY).toBe(first.pem);
      const again = ensureDkimKey(dir, 'chorus2099');
      expect(again).toEqual({ ...first, generated: false });
      // a new selector is a new key beside the old one: the rotation
      const next = ensureDkimKey(dir, 'chorus2100');
      expect(next.generated).toBe(true);
      expect(next.pem).not.toBe(first.pem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`npm run dns` generates it once into .data/ and prints the same record after that; DKIM_PRIVATE_KEY comes first', async () => {
    const selector = `test${Date.now().toString(36)}`;
    const file = join(ROOT, '.data', `dkim-${selector}.pem`);
    try {
      const env = { MAIL_FROM, DKIM_SELECTOR: selector, DKIM_PRIVATE_KEY: '' };
      const first = await npmRunDns(env);
      expect(first.code).toBe(0);
      expect(first.stderr).toContain(`generated a DKIM key (selector ${selector})`);
      const second = await npmRunDns(env);
      expect(second.stderr).toBe('');
      const dkimOf = (out: string) => parseZone(out).get(`${selector}._domainkey.chorus.example.org`)![0]!.join('');
      expect(dkimOf(second.stdout)).toBe(dkimOf(first.stdout));
      expect(dkimOf(first.stdout)).toBe(`v=DKIM1; k=rsa; p=${dkimPublicKey(ensureDkimKey(join(ROOT, '.data'), selector).pem)}`);
      // the environment's key over the file, written on one line with \n as .env files need
      const own = generateDkimKey();
      const fromEnv = await npmRunDns({ ...env, DKIM_PRIVATE_KEY: own.trim().replaceAll('\n', '\\n') });
      expect(dkimOf(fromEnv.stdout)).toBe(`v=DKIM1; k=rsa; p=${dkimPublicKey(own)}`);
    } finally {
      rmSync(file, { force: true });
    }
    // three runs of npm and tsx: seconds each alone, far more on a machine the suite keeps busy
  }, 120_000);

  it('the default selector is a dated one', () => {
    expect(DEFAULT_DKIM_SELECTOR).toMatch(/^chorus20\d\d$/);
    expect(loadConfig({ SECRET_KEY: 'k'.repeat(40) }).DKIM_SELECTOR).toBe(DEFAULT_DKIM_SELECTOR);
  });

  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const locked = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
  it.each([
    ['not a key', 'garbage', /^Invalid configuration: DKIM_PRIVATE_KEY must be an unencrypted PEM private key/],
    ['an EC key', ec, /^Invalid configuration: DKIM_PRIVATE_KEY must be an RSA key \(this one is ec\)$/],
    ['a 1024-bit RSA key', small, /^Invalid configuration: DKIM_PRIVATE_KEY must be an RSA key of 2048 to 4096 bits \(this one has 1024\)$/],
    ['an encrypted key', locked, /^Invalid configuration: DKIM_PRIVATE_KEY must be an unencrypted PEM private key/],
    ['a selector that is no DNS name', 'selector', /^Invalid configuration: DKIM_SELECTOR must be a DNS name/],
  ])('%s is refused by the configuration with one line', (what, value, message) => {
    const env = what.startsWith('a selector') ? { DKIM_SELECTOR: 'bad selector!', DKIM_PRIVATE_KEY: generateDkimKey() } : { DKIM_PRIVATE_KEY: value };
    let error: unknown;
    try {
      loadConfig({ SECRET_KEY: 'k'.repeat(40), ...env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('a PKCS #1 key (BEGIN RSA PRIVATE KEY) is taken, and kept as PKCS #8', () => {
    const pkcs1 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const pem = loadConfig({ SECRET_KEY: 'k'.repeat(40), DKIM_PRIVATE_KEY: pkcs1 }).DKIM_PRIVATE_KEY!;
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(dkimPublicKey(pem)).toBe(dkimPublicKey(pkcs1));
  });

  it('without a key there is no mail signing, with a reason that says where a key comes from', () => {
    const config = loadConfig({ SECRET_KEY: 'k'.repeat(40) });
    expect(() => mailSigning(config)).toThrow(ConfigError);
    expect(() => mailSigning(config)).toThrow(/^Invalid configuration: DKIM_PRIVATE_KEY is required: .*npm start and npm run dns generate one into \.data\//);
  });

  const startProcess = runBuiltProcess;

  it.each(['server', 'workers'] as const)('the %s process stops at start with one line when the key is bad or missing', async (kind) => {
    const builds = await buildProcesses();
    const bad = await startProcess(builds[kind], { DKIM_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nnot a key\\n-----END PRIVATE KEY-----', PORT: '0' });
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/^Invalid configuration: DKIM_PRIVATE_KEY must be an unencrypted PEM private key[^\n]*\n$/);
    const none = await startProcess(builds[kind], { DKIM_PRIVATE_KEY: '', PORT: '0' });
    expect(none.code).toBe(1);
    expect(none.output).toMatch(/^Invalid configuration: DKIM_PRIVATE_KEY is required[^\n]*\n$/);
  }, 90_000);
});

describe('npm run dns', () => {
  const key = generateDkimKey();
  const env = { MAIL_FROM: 'Campaigns <campaigns@Mail.Example.net>', DKIM_SELECTOR: 'chorus2031', DKIM_PRIVATE_KEY: key };
  let printed: string;
  let dns: DnsServer;

  beforeAll(async () => {
    const out = await npmRunDns(env);
    expect(out.code).toBe(0);
    printed = out.stdout;
    dns = await startDnsServer();
  });
  afterAll(async () => dns?.close());

  it("prints SPF, the DKIM key's record and DMARC for MAIL_FROM's domain as zone-file lines", () => {
    const zone = parseZone(printed);
    expect([...zone.keys()]).toEqual(['mail.example.net', 'chorus2031._domainkey.mail.example.net', '_dmarc.mail.example.net']);
    expect(zone.get('mail.example.net')).toEqual([['v=spf1 mx ~all']]);
    const dkim = zone.get('chorus2031._domainkey.mail.example.net')!;
    expect(dkim).toHaveLength(1);
    // a 2048-bit key's record is longer than one character string may be: split, joined without spaces
    expect(dkim[0]!.length).toBeGreaterThan(1);
    expect(dkim[0]!.join('')).toBe(`v=DKIM1; k=rsa; p=${dkimPublicKey(key)}`);
    expect(zone.get('_dmarc.mail.example.net')![0]!.join('')).toMatch(/^v=DMARC1; p=none/);
    // every record line has a comment above it saying what it is for
    for (const line of printed.split('\n').filter((l) => /\tIN\tTXT\t/.test(l))) {
      const lines = printed.split('\n');
      expect(lines[lines.indexOf(line) - 1]).toMatch(/^; /);
    }
  });

  const check = () => npmRunDns(env, ['--check', '--server', dns.address]);

  it('--check says every record is missing when none is published, and exits 1', async () => {
    dns.records.clear();
    const out = await check();
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^missing SPF +mail\.example\.net: no SPF record/m);
    expect(out.stdout).toMatch(/^missing DKIM +chorus2031\._domainkey\.mail\.example\.net: no DKIM record/m);
    expect(out.stdout).toMatch(/^missing DMARC +_dmarc\.mail\.example\.net: no DMARC record/m);
  }, 60_000);

  it('--check passes when the printed records are published, and exits 0', async () => {
    for (const [name, records] of parseZone(printed)) dns.records.set(name, records);
    const out = await check();
    expect(out.stdout).toMatch(/^ok +SPF /m);
    expect(out.stdout).toMatch(/^ok +DKIM +chorus2031\._domainkey\.mail\.example\.net: publishes the signing key/m);
    expect(out.stdout).toMatch(/^ok +DMARC /m);
    expect(out.stdout).toContain('All 3 records are published for mail.example.net.');
    expect(out.code).toBe(0);
  }, 60_000);

  it('--check says what is wrong: another key, two SPF records, an SPF that allows anyone, a DMARC without a policy', async () => {
    const other = generateDkimKey();
    dns.records.set('chorus2031._domainkey.mail.example.net', [strings(`v=DKIM1; k=rsa; p=${dkimPublicKey(other)}`)]);
    dns.records.set('mail.example.net', [['v=spf1 mx ~all'], ['v=spf1 include:relay.example ~all'], ['google-site-verification=abc']]);
    dns.records.set('_dmarc.mail.example.net', [['v=DMARC1; rua=mailto:d@mail.example.net']]);
    let out = await check();
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/^wrong +DKIM .*publishes another key/m);
    expect(out.stdout).toMatch(/^wrong +SPF .*2 SPF records/m);
    expect(out.stdout).toMatch(/^wrong +DMARC .*no valid policy/m);
    expect(out.stdout).toContain('3 of 3 records are not right');

    dns.records.set('mail.example.net', [['v=spf1 +all']]);
    dns.records.set('chorus2031._domainkey.mail.example.net', [['v=DKIM1; k=rsa; p=']]);
    out = await check();
    expect(out.stdout).toMatch(/^wrong +SPF .*lets any server send/m);
    expect(out.stdout).toMatch(/^wrong +DKIM .*revoked/m);
  }, 60_000);
});

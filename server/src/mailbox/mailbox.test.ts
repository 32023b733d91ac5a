import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport } from 'nodemailer';
import { pino } from 'pino';
import { startMailbox, decodeEncodedWords, type Mailbox } from './mailbox.service.js';
import { mailboxClient, type MailboxClient } from './mailbox.client.js';
import { escapeHtml } from './mailbox.http.js';

const LETTER_HTML = '<h1>Dear minister</h1><p>Please act.</p><script>alert(1)</script>';
const LETTER_SUBJECT = 'Letter <b>urgent</b> & "quoted"';

function unescapeAttribute(value: string): string {
  return value
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

describe('development mailbox', () => {
  let mailbox: Mailbox;
  let client: MailboxClient;
  let base: string;
  let transport: ReturnType<typeof createTransport>;

  beforeAll(async () => {
    mailbox = await startMailbox({ smtpPort: 0, httpPort: 0, logger: pino({ level: 'silent' }) });
    base = `http://127.0.0.1:${mailbox.httpPort}`;
    client = mailboxClient(base);
    transport = createTransport({ host: '127.0.0.1', port: mailbox.smtpPort, secure: false, ignoreTLS: true });

    await transport.sendMail({
      from: 'Chorus <actions@chorus.test>',
      // nodemailer lowercases the domain; the local part keeps its case.
      to: 'Alice@Example.org',
      replyTo: 'help@chorus.test',
      subject: 'Confirm your signature',
      messageId: '<confirm-1@chorus.test>',
      text: 'Hello Alice,\nconfirm here: https://chorus.test/confirm?t=abc&x=1.\n',
      html: '<p>Hello Alice, <a href="https://chorus.test/confirm?t=abc&amp;x=1">confirm</a></p>',
      headers: {
        'List-Unsubscribe': '<https://chorus.test/unsubscribe?t=abc>, <mailto:unsubscribe@chorus.test>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    });
    await transport.sendMail({
      from: 'Chorus <actions@chorus.test>',
      to: 'minister@gov.example',
      bcc: 'archive@chorus.test',
      subject: LETTER_SUBJECT,
      messageId: '<letter-2@chorus.test>',
      text: 'Dear minister,\nplease act.',
      html: LETTER_HTML,
      attachments: [{ filename: 'signatures.csv', content: 'name\nAlice\n', contentType: 'text/csv' }],
    });
  });

  afterAll(async () => {
    transport?.close();
    await mailbox?.close();
  });

  it('binds real ports when asked for port 0', () => {
    expect(mailbox.smtpPort).toBeGreaterThan(0);
    expect(mailbox.httpPort).toBeGreaterThan(0);
    expect(mailbox.messages().map((m) => m.subject)).toEqual(['Confirm your signature', LETTER_SUBJECT]);
  });

  it('lists messages newest first without html or raw', async () => {
    const list = await client.list();
    expect(list.map((m) => m.subject)).toEqual([LETTER_SUBJECT, 'Confirm your signature']);
    for (const m of list) {
      expect(m).not.toHaveProperty('raw');
      expect(m).not.toHaveProperty('html');
      expect(typeof m.text).toBe('string');
    }
    expect(list[1]!.envelope).toEqual({ from: 'actions@chorus.test', to: ['Alice@example.org'] });
    expect(list[0]!.envelope.to).toEqual(['minister@gov.example', 'archive@chorus.test']);
  });

  it('filters by envelope recipient and subject', async () => {
    expect((await client.list({ to: 'alice@EXAMPLE.org' })).map((m) => m.subject)).toEqual([
      'Confirm your signature',
    ]);
    expect((await client.list({ to: 'archive@chorus.test' })).map((m) => m.subject)).toEqual([LETTER_SUBJECT]);
    expect(await client.list({ to: 'alice@example' })).toEqual([]);
    expect((await client.list({ subject: '<b>urgent' })).map((m) => m.subject)).toEqual([LETTER_SUBJECT]);
    expect((await client.list({ subject: 'confirm' })).map((m) => m.subject)).toEqual(['Confirm your signature']);
    expect(await client.list({ to: 'alice@example.org', subject: 'letter' })).toEqual([]);
  });

  it('returns the full message with text, html and headers', async () => {
    const confirm = await client.waitFor((m) => m.subject.startsWith('Confirm'), { to: 'alice@example.org' });
    expect(confirm.messageId).toBe('<confirm-1@chorus.test>');
    expect(confirm.from).toContain('actions@chorus.test');
    expect(confirm.to).toContain('Alice@example.org');
    expect(confirm.replyTo).toContain('help@chorus.test');
    expect(confirm.text).toContain('https://chorus.test/confirm?t=abc&x=1');
    expect(confirm.html).toContain('href="https://chorus.test/confirm?t=abc&amp;x=1"');
    expect(confirm.listUnsubscribe).toBe('<https://chorus.test/unsubscribe?t=abc>, <mailto:unsubscribe@chorus.test>');
    expect(confirm.listUnsubscribePost).toBe('List-Unsubscribe=One-Click');
    expect(confirm.headers['list-unsubscribe']).toBe(confirm.listUnsubscribe);
    expect(confirm.headers['message-id']).toBe('<confirm-1@chorus.test>');
    expect(confirm.headers['subject']).toBe('Confirm your signature');
    expect(confirm.raw).toContain('Message-ID: <confirm-1@chorus.test>');
    expect(confirm.receivedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const letter = await client.waitFor((m) => m.messageId === '<letter-2@chorus.test>');
    expect(letter.subject).toBe(LETTER_SUBJECT);
    expect(letter.html).toBe(LETTER_HTML);
    expect(letter.text).toContain('Dear minister');
    expect(letter.listUnsubscribe).toBeNull();
    expect(letter.attachments).toEqual([{ filename: 'signatures.csv', contentType: 'text/csv', size: 11 }]);
    // Bcc is visible only in the envelope, never in the headers.
    expect(letter.headers['bcc']).toBeUndefined();
  });

  it('serves the raw source as text/plain', async () => {
    const [letter] = await client.list({ subject: 'urgent' });
    const res = await fetch(`${base}/api/messages/${letter!.id}/raw`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const raw = await res.text();
    expect(raw).toContain('Message-ID: <letter-2@chorus.test>');
    expect(raw).toContain('Content-Type: multipart/mixed');
  });

  it('escapes message content on the HTML pages and sandboxes the HTML part', async () => {
    const [letter] = await client.list({ subject: 'urgent' });
    const res = await fetch(`${base}/messages/${letter!.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await res.text();

    expect(page).toContain('<html lang="en">');
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).not.toContain('<b>urgent</b>');
    expect(page).toContain(`<h1>${escapeHtml(LETTER_SUBJECT)}</h1>`);

    const frames = [...page.matchAll(/<iframe\b([^>]*)>/g)].map((m) => m[1]!);
    expect(frames).toHaveLength(1);
    expect(frames[0]).toContain(' sandbox="" ');
    const srcdoc = /\ssrcdoc="([^"]*)"/.exec(frames[0]!)?.[1];
    expect(srcdoc).toBeDefined();
    expect(srcdoc).not.toMatch(/[<>"]/);
    expect(srcdoc).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(unescapeAttribute(srcdoc!)).toBe(LETTER_HTML);
    expect(page).toContain(`href="/api/messages/${letter!.id}/raw"`);

    const list = await (await fetch(`${base}/`)).text();
    expect(list).toContain('<title>Chorus mailbox</title>');
    expect(list).not.toContain('<b>urgent</b>');
    expect(list).toContain(escapeHtml(LETTER_SUBJECT));
    expect(list).toContain(`href="/messages/${letter!.id}"`);
    expect(list.indexOf(escapeHtml(LETTER_SUBJECT))).toBeLessThan(list.indexOf('Confirm your signature'));
  });

  it('links URLs in the plain text without breaking escaping', async () => {
    const [confirm] = await client.list({ subject: 'confirm' });
    const page = await (await fetch(`${base}/messages/${confirm!.id}`)).text();
    expect(page).toContain(
      '<a href="https://chorus.test/confirm?t=abc&amp;x=1" rel="noreferrer">https://chorus.test/confirm?t=abc&amp;x=1</a>.',
    );
  });

  it('answers 404 for an unknown id', async () => {
    expect(await client.get('999999')).toBeNull();
    const api = await fetch(`${base}/api/messages/999999`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: 'Not Found' });
    expect((await fetch(`${base}/api/messages/999999/raw`)).status).toBe(404);
    const html = await fetch(`${base}/messages/%3Cscript%3E`);
    expect(html.status).toBe(404);
    expect(await html.text()).not.toContain('<script>');
  });

  it('times out waitFor with the subjects it saw', async () => {
    await expect(client.waitFor(() => false, { timeoutMs: 300, intervalMs: 50 })).rejects.toThrow(
      /after 300 ms\. Subjects seen \(2\): .*"Confirm your signature"/,
    );
  });

  it('clears with DELETE', async () => {
    const res = await fetch(`${base}/api/messages`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await client.list()).toEqual([]);
    expect(mailbox.messages()).toEqual([]);
    await client.clear();
  });
});

describe('mailbox limits', () => {
  it('drops the oldest messages beyond maxMessages and keeps ids increasing', async () => {
    const mailbox = await startMailbox({ smtpPort: 0, httpPort: 0, maxMessages: 2 });
    const transport = createTransport({ host: '127.0.0.1', port: mailbox.smtpPort, secure: false, ignoreTLS: true });
    try {
      for (const n of [1, 2, 3]) {
        await transport.sendMail({ from: 'a@chorus.test', to: 'b@chorus.test', subject: `n${n}`, text: 'x' });
      }
      expect(mailbox.messages().map((m) => [m.id, m.subject])).toEqual([
        ['2', 'n2'],
        ['3', 'n3'],
      ]);
      mailbox.clear();
      await transport.sendMail({ from: 'a@chorus.test', to: 'b@chorus.test', subject: 'n4', text: 'x' });
      expect(mailbox.messages().map((m) => m.id)).toEqual(['4']);
    } finally {
      transport.close();
      await mailbox.close();
    }
  });

  it('decodes encoded words in header values', () => {
    expect(decodeEncodedWords('=?UTF-8?B?w6lsw6h2ZQ==?= =?UTF-8?Q?_caf=C3=A9?= ok')).toBe('élève café ok');
    expect(decodeEncodedWords('=?ISO-8859-1?Q?Andr=E9?= Pirard')).toBe('André Pirard');
    expect(decodeEncodedWords('plain value')).toBe('plain value');
  });
});

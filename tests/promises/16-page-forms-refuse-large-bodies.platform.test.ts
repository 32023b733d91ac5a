// Promise 16: under any load every answer is correct, a 503 or a 429, never a crash. Page forms
// were a way around it: they took 16 MB bodies, and four of them at once grew the server by
// more than 100 MB. Tried as an attacker would, against the real server process (the built
// pages behind Fastify, as `npm start` runs them): every page form refuses a body over 512 kB
// with 413 before reading it, a body of unknown length with 411, and the server's memory does
// not follow what is posted. The officials' answer form keeps its own, larger limit
// (attachments).
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { seed } from '../../prisma/seed.ts';
import { PACKET_PURPOSE, packetToken } from '../../server/src/delivery/packet.service.ts';
import { signToken } from '../../server/src/shared/tokens.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const SLUG = 'uzbekistan-let-the-rapporteur-in';
let platform: Platform;

beforeAll(async () => {
  await seed(process.env.DATABASE_URL!);
  platform = await startPlatform();
});
afterAll(async () => platform?.stop());

/**
 * Sends only the head of a POST that announces `length` bytes, and answers the status line and
 * head the server sends back while no byte of the body has been sent: a server that waited for
 * the body would never answer (the test would time out).
 */
function headOnly(path: string, length: number, headers: Record<string, string> = {}): Promise<{ status: number; head: string; body: string }> {
  const url = new URL(platform.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += c.toString('utf8');
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0 && /content-length: (\d+)/i.test(got.slice(0, end))) {
        const len = Number(/content-length: (\d+)/i.exec(got.slice(0, end))![1]);
        if (Buffer.byteLength(got.slice(end + 4)) >= len) {
          socket.destroy();
          resolve({ status: Number(got.slice(9, 12)), head: got.slice(0, end), body: got.slice(end + 4) });
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed without a full answer: ${got.slice(0, 200)}`)));
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nOrigin: ${platform.baseUrl}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `${length >= 0 ? `Content-Length: ${length}\r\n` : 'Transfer-Encoding: chunked\r\n'}${extra}\r\n`,
    );
    if (length < 0) socket.write('5\r\nhello\r\n'); // a first chunk, and no end
  });
}

const PAGES = () => [`/en/actions/${SLUG}?/sign`, `/actions/${SLUG}?/sign`, `/fr/my-data`, `/en/confirm/abc?/confirm`, `/admin/login`, `/es/unsubscribe/abc`, `/ru/embed/${SLUG}?/sign`];

describe('page forms', () => {
  it('answer 413 from the announced length, before a byte of the body is read, in the page’s language', async () => {
    for (const path of PAGES()) {
      const res = await headOnly(path, 8 * 1024 * 1024);
      expect([path, res.status]).toEqual([path, 413]);
      expect(res.head).toMatch(/connection: close/i);
      expect(res.head).toMatch(/content-type: text\/html/i);
    }
    expect((await headOnly(`/fr/actions/${SLUG}?/sign`, 600 * 1024)).body).toContain('Trop de données');
    expect((await headOnly(`/actions/${SLUG}?/sign`, 600 * 1024, { 'Accept-Language': 'ru' })).body).toContain('Слишком много данных');
    // just over the limit too
    expect((await headOnly(`/en/actions/${SLUG}?/sign`, 512 * 1024 + 1)).status).toBe(413);
  });

  it('refuse a body of unknown length (chunked) with 411, without waiting for its end', async () => {
    for (const path of PAGES()) expect([path, (await headOnly(path, -1)).status]).toEqual([path, 411]);
  });

  it('still take a form within the limit', async () => {
    const res = await fetch(`${platform.baseUrl}/en/actions/${SLUG}?/sign`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.baseUrl, accept: 'text/html' },
      body: `firstName=${'x'.repeat(100 * 1024)}`,
    });
    // read and answered by the page: the name is too long (422, the form again) or a redirect
    expect(res.status).not.toBe(413);
    expect(res.status).toBeLessThan(500);
  });

  it('the officials’ answer form keeps its larger limit for attachments, and refuses beyond it', async () => {
    // a packet link valid now (its letter need not exist for the limit)
    const token = packetToken(process.env.SECRET_KEY!, randomUUID(), new Date());
    const body = new FormData();
    body.set('body', 'Our answer');
    body.set('attachments', new Blob([Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(2 * 1024 * 1024, 32)])], { type: 'application/pdf' }), 'answer.pdf');
    const res = await fetch(`${platform.baseUrl}/en/packet/${token}?/answer`, { method: 'POST', redirect: 'manual', headers: { origin: platform.baseUrl }, body });
    expect(res.status).not.toBe(413);
    expect(res.status).toBeLessThan(500);
    expect((await headOnly(`/en/packet/${token}?/answer`, 17 * 1024 * 1024)).status).toBe(413);
  });

  it('a made-up or expired packet link gets only the page limit: nobody makes the server read 16 MB without one', async () => {
    const expired = signToken(process.env.SECRET_KEY!, PACKET_PURPOSE, randomUUID(), new Date(Date.now() - 1_000));
    for (const path of ['/en/packet/not-a-real-token?/answer', `/packet/${expired}?/answer`]) {
      expect([path, (await headOnly(path, 2 * 1024 * 1024)).status]).toEqual([path, 413]);
    }
    // a path that is not even a URL is refused as such, before its body too
    expect([400, 413]).toContain((await headOnly('/ru/packet/abc%ZZ?/answer', 2 * 1024 * 1024)).status);
  });

  it('four 16 MB posts at once leave the server’s memory where it was', async () => {
    const pid = platform.pid('server')!;
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
    const before = rss();
    const huge = `firstName=${'x'.repeat(16 * 1024 * 1024 - 10)}`;
    const answers = await Promise.all(
      [0, 1, 2, 3].map(() =>
        fetch(`${platform.baseUrl}/en/actions/${SLUG}?/sign`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.baseUrl },
          body: huge,
        }).then(
          (r) => r.status,
          () => 0, // the server may close the connection on the uploader after its 413
        ),
      ),
    );
    for (const status of answers) expect([0, 413]).toContain(status);
    // the server is still there and answers
    expect((await fetch(`${platform.baseUrl}/healthz`)).status).toBe(200);
    // what was posted (64 MB) is not held; before this change the server grew by over 100 MB
    expect(rss() - before).toBeLessThan(32 * 1024 * 1024);
  });
});

// The attachment checks and the error classes the staff ledger shows, without a database.
import { describe, expect, it } from 'vitest';
import { attachmentFilename, attachmentInputSchema, checkAttachment, downloadDisposition, MAX_ATTACHMENT_BYTES } from './attachment.ts';
import { classifyError } from './delivery-admin.service.ts';

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64');
const parse = (a: Record<string, unknown>) => attachmentInputSchema.safeParse(a);

describe('attachments', () => {
  it('takes files whose first bytes match their declared safe type', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0]);
    for (const [contentType, data] of [
      ['application/pdf', Buffer.from('%PDF-1.7\n')],
      ['image/png', png],
      ['image/jpeg', jpeg],
      ['text/plain', Buffer.from('Réponse officielle\n')],
    ] as const) {
      const input = parse({ filename: 'f', contentType, data: b64(data) });
      expect(input.success, contentType).toBe(true);
      expect(checkAttachment(input.data!).data.equals(data)).toBe(true);
    }
  });

  it('refuses unsafe types, mislabelled or empty files, bad names and oversized data', () => {
    expect(parse({ filename: 'x.html', contentType: 'text/html', data: b64('<b>') }).success).toBe(false);
    expect(parse({ filename: 'x.svg', contentType: 'image/svg+xml', data: b64('<svg/>') }).success).toBe(false);
    expect(parse({ filename: '../etc/passwd', contentType: 'text/plain', data: b64('x') }).success).toBe(false);
    expect(parse({ filename: 'a\r\nb.pdf', contentType: 'application/pdf', data: b64('%PDF-') }).success).toBe(false);
    expect(parse({ filename: 'x.pdf', contentType: 'application/pdf', data: 'not base64!' }).success).toBe(false);
    const check = (contentType: string, data: Buffer) => () => checkAttachment({ filename: 'f', contentType, data: b64(data) });
    expect(check('application/pdf', Buffer.from('<html>'))).toThrow(/not a application\/pdf/);
    expect(check('image/png', Buffer.from('%PDF-1.4'))).toThrow(/not a image\/png/);
    expect(check('text/plain', Buffer.from([0x66, 0x00, 0x67]))).toThrow();
    expect(check('text/plain', Buffer.from([0xc3, 0x28]))).toThrow();
    expect(check('text/plain', Buffer.alloc(0))).toThrow(/empty/);
    expect(check('text/plain', Buffer.alloc(MAX_ATTACHMENT_BYTES + 1, 97))).toThrow(/5 MB/);
  });

  it('gives every file the extension of the type it was checked to be', () => {
    const cases: [string, string, string][] = [
      ['reply.hta', 'application/pdf', 'reply.pdf'],
      ['evil.html', 'text/plain', 'evil.txt'],
      ['evil.HTML', 'text/plain', 'evil.txt'],
      ['report.final.pdf', 'application/pdf', 'report.final.pdf'],
      ['REPORT.PDF', 'application/pdf', 'REPORT.PDF'],
      ['photo.jpeg', 'image/jpeg', 'photo.jpeg'],
      ['photo.JPG', 'image/jpeg', 'photo.JPG'],
      ['photo.png', 'image/jpeg', 'photo.jpg'],
      ['scan', 'image/png', 'scan.png'],
      ['run.exe. . .', 'application/pdf', 'run.pdf'],
      ['x.svg', 'text/plain', 'x.txt'],
      ['.htaccess', 'text/plain', 'attachment.txt'],
      ['...', 'text/plain', 'attachment.txt'],
      ['reply\u202efdp.hta', 'application/pdf', 'replyfdp.pdf'],
      ['archive.tar.gz', 'application/pdf', 'archive.tar.pdf'],
    ];
    for (const [name, type, expected] of cases) expect([name, attachmentFilename(name, type)]).toEqual([name, expected]);
    const html = checkAttachment({ filename: 'evil.html', contentType: 'text/plain', data: b64('<script>alert(1)</script>') });
    expect(html.filename).toBe('evil.txt');
  });

  it('names a download safely, with the UTF-8 name alongside', () => {
    expect(downloadDisposition('Réponse "finale".pdf')).toBe(`attachment; filename="R_ponse__finale_.pdf"; filename*=UTF-8''R%C3%A9ponse%20%22finale%22.pdf`);
  });
});

describe('error classes in the staff ledger', () => {
  it('classifies what the delivery worker records', () => {
    expect(classifyError(null)).toBeNull();
    expect(classifyError('550 5.1.1 no such mailbox')).toBe('smtp-permanent');
    expect(classifyError('451 4.7.1 try again later')).toBe('smtp-transient');
    expect(classifyError('ETIMEDOUT Timeout')).toBe('timeout');
    expect(classifyError('ECONNECTION Connection closed unexpectedly')).toBe('connection');
    expect(classifyError('gave up after 20 attempts: 451 busy')).toBe('gave-up');
    expect(classifyError('something odd')).toBe('other');
  });
});

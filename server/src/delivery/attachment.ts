// Files an official attaches to an answer. Only types that no browser will run as a page or
// script are taken, and the first bytes must match the declared type (a "PDF" that is really
// HTML is refused). They live in PostgreSQL (bytea, size-checked by a constraint) and are
// only ever served as downloads: Content-Disposition: attachment, nosniff, a fixed type.
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AppError } from '../shared/errors.ts';
import { ATTACHMENT_EXTENSIONS, ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES, type AttachmentType } from '../shared/attachments.ts';

export { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS } from '../shared/attachments.ts';

/** type -> a check of the first bytes */
const SAFE_TYPES: Record<string, (b: Buffer) => boolean> = {
  'application/pdf': (b) => b.subarray(0, 5).toString('latin1') === '%PDF-',
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  // plain text must be valid UTF-8 without NULs; served as text/plain and as a download anyway
  'text/plain': (b) => !b.includes(0) && Buffer.from(b.toString('utf8'), 'utf8').equals(b),
} satisfies Record<AttachmentType, (b: Buffer) => boolean>;
export const SAFE_ATTACHMENT_TYPES: readonly string[] = ATTACHMENT_TYPES;

/** the extensions a file of each type may carry; the first is given to a name that has none of them */
const EXTENSIONS: Record<string, readonly string[]> = ATTACHMENT_EXTENSIONS;

/**
 * The name a file is stored and served under: its extension follows the type its bytes were
 * checked to be, so `reply.hta` (a PDF) becomes `reply.pdf` and `evil.html` (text) `evil.txt`,
 * and nobody's file manager opens it as anything else. Trailing dots and spaces (which Windows
 * drops, uncovering the extension before them) and bidirectional controls (which can show
 * `fdp.hta` as `ath.pdf`) are removed first.
 */
export function attachmentFilename(filename: string, contentType: string): string {
  const exts = EXTENSIONS[contentType] ?? ['bin'];
  let base = filename.replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').replace(/[\s.]+$/u, '');
  const m = /^(.*)\.([^.]{1,16})$/su.exec(base);
  if (m && exts.includes(m[2]!.toLowerCase())) return base;
  if (m) base = m[1]!.replace(/[\s.]+$/u, '');
  return `${base || 'attachment'}.${exts[0]}`;
}

export const attachmentInputSchema = z.strictObject({
  filename: z
    .string()
    .trim()
    .min(1, 'filename is required')
    .max(200, 'filename must be at most 200 characters')
    .refine((s) => !/[\u0000-\u001f\u007f/\\]/.test(s), 'filename must not contain control characters or slashes'),
  contentType: z.enum(SAFE_ATTACHMENT_TYPES as [string, ...string[]], { error: `contentType must be one of ${SAFE_ATTACHMENT_TYPES.join(', ')}` }),
  /** the file, base64 */
  data: z
    .string()
    .max(Math.ceil((MAX_ATTACHMENT_BYTES * 4) / 3) + 4, 'an attachment may be at most 5 MB')
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'data must be base64'),
});
export type AttachmentInput = z.infer<typeof attachmentInputSchema>;

export interface CheckedAttachment {
  filename: string;
  contentType: string;
  data: Buffer;
}

export function checkAttachment(a: AttachmentInput): CheckedAttachment {
  const data = Buffer.from(a.data, 'base64');
  if (data.length === 0) throw new AppError(422, 'validation_failed', `${a.filename}: the file is empty`);
  if (data.length > MAX_ATTACHMENT_BYTES) throw new AppError(422, 'attachment_too_large', `${a.filename}: an attachment may be at most 5 MB`);
  if (!SAFE_TYPES[a.contentType]!(data)) {
    throw new AppError(422, 'attachment_type_mismatch', `${a.filename}: the file is not a ${a.contentType} file`);
  }
  return { filename: attachmentFilename(a.filename, a.contentType), contentType: a.contentType, data };
}

/** Content-Disposition for a download, with an ASCII fallback and the UTF-8 name (RFC 6266). */
export function downloadDisposition(filename: string): string {
  const ascii = filename.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || 'attachment';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/** Always a download, never rendered: a fixed safe type, attachment, nosniff and a sandbox CSP. */
export function sendAttachment(
  reply: FastifyReply,
  f: { filename: string; contentType: string; data: Buffer },
): FastifyReply {
  return reply
    .header('content-type', f.contentType === 'text/plain' ? 'text/plain; charset=utf-8' : f.contentType)
    // files stored before names followed their type are served under the corrected name too
    .header('content-disposition', downloadDisposition(attachmentFilename(f.filename, f.contentType)))
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .send(f.data);
}

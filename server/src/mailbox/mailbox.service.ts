// Development mail sink: an SMTP server that keeps every message it receives in memory, and a
// small web UI and JSON API (mailbox.http.ts) to read them. Loopback only, never for production.
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { buildMailboxHttp } from './mailbox.http.js';

export interface MailboxLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface StoredAttachment {
  filename: string | null;
  contentType: string;
  size: number;
}

export interface StoredMessage {
  /** Incrementing id, never reused within one mailbox run (not even after clear). */
  id: string;
  receivedAt: string;
  /** The SMTP envelope: who the message was actually sent from and to (Bcc included). */
  envelope: { from: string; to: string[] };
  messageId: string | null;
  subject: string;
  /** The From and To headers as display text, '' when absent. */
  from: string;
  to: string;
  replyTo: string | null;
  listUnsubscribe: string | null;
  listUnsubscribePost: string | null;
  /** Every top-level header, lowercased name to unfolded, decoded value; repeats joined by '\n'. */
  headers: Record<string, string>;
  /** Plain text body, '' when the message has none. */
  text: string;
  html: string | null;
  attachments: StoredAttachment[];
  /** The RFC 822 source as received, decoded as UTF-8. */
  raw: string;
}

/** What the list endpoint returns per message. */
export type MessageSummary = Omit<StoredMessage, 'raw' | 'html'>;

export interface MailboxStore {
  /** Newest first. */
  list(): StoredMessage[];
  get(id: string): StoredMessage | undefined;
  clear(): void;
}

export interface MailboxOptions {
  smtpPort: number;
  httpPort: number;
  /** Interface both servers bind to. Default 127.0.0.1. */
  host?: string;
  /** Oldest messages are dropped beyond this. Default 2000. */
  maxMessages?: number;
  logger?: MailboxLogger;
}

export interface Mailbox {
  smtpPort: number;
  httpPort: number;
  close(): Promise<void>;
  /** A copy of the stored messages, oldest first (arrival order). */
  messages(): StoredMessage[];
  clear(): void;
}

export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

const silentLogger: MailboxLogger = { info() {}, warn() {}, error() {} };

export async function startMailbox(opts: MailboxOptions): Promise<Mailbox> {
  const host = opts.host ?? '127.0.0.1';
  const maxMessages = opts.maxMessages ?? 2000;
  const logger = opts.logger ?? silentLogger;
  if (!Number.isInteger(maxMessages) || maxMessages < 1) {
    throw new RangeError(`maxMessages must be a positive integer, got ${maxMessages}`);
  }

  const stored: StoredMessage[] = [];
  let nextId = 1;

  const store: MailboxStore = {
    list: () => stored.slice().reverse(),
    get: (id) => stored.find((m) => m.id === id),
    clear: () => {
      stored.length = 0;
    },
  };

  function add(message: Omit<StoredMessage, 'id'>): StoredMessage {
    const full: StoredMessage = { id: String(nextId++), ...message };
    stored.push(full);
    if (stored.length > maxMessages) stored.splice(0, stored.length - maxMessages);
    return full;
  }

  const smtp = new SMTPServer({
    name: 'chorus-mailbox',
    banner: 'Chorus development mailbox',
    authOptional: true,
    // Clients configured with credentials are let in with any of them.
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, session, callback) {
      receive(stream, session).then(
        (message) => {
          logger.info(
            { id: message.id, to: message.envelope.to, subject: message.subject },
            'mailbox received a message',
          );
          callback(null, `OK: stored as message ${message.id}`);
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<StoredMessage> {
    const raw = await readStream(stream);
    if (stream.sizeExceeded) {
      throw Object.assign(new Error('Error: message exceeds fixed maximum message size'), {
        responseCode: 552,
      });
    }
    const envelope = {
      from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      to: session.envelope.rcptTo.map((r) => r.address),
    };
    const receivedAt = new Date().toISOString();
    let parsed: ParsedMail | null = null;
    try {
      parsed = await simpleParser(raw, { skipTextToHtml: true, keepCidLinks: true, checksumAlgo: false });
    } catch (err) {
      // Keep the message anyway so it can still be read raw.
      logger.warn({ err, envelope }, 'mailbox could not parse a message, storing it raw');
    }
    return add(toStored(raw, parsed, envelope, receivedAt));
  }

  await listen(smtp, opts.smtpPort, host);
  smtp.on('error', (err) => logger.error({ err }, 'mailbox SMTP server error'));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const http = buildMailboxHttp({ store, smtpPort, host });
  try {
    await http.listen({ port: opts.httpPort, host });
  } catch (err) {
    await closeSmtp(smtp);
    throw err;
  }
  const httpPort = (http.server.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  return {
    smtpPort,
    httpPort,
    close() {
      closing ??= Promise.all([closeSmtp(smtp), http.close()]).then(() => undefined);
      return closing;
    },
    messages: () => stored.slice(),
    clear: store.clear,
  };
}

function listen(smtp: SMTPServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    smtp.once('error', onError);
    smtp.listen(port, host, () => {
      smtp.off('error', onError);
      resolve();
    });
  });
}

function closeSmtp(smtp: SMTPServer): Promise<void> {
  return new Promise((resolve) => smtp.close(() => resolve()));
}

function readStream(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    stream.on('data', (chunk: Buffer) => {
      // Past the limit the message is rejected, so stop buffering but keep draining.
      if (length <= MAX_MESSAGE_BYTES) {
        chunks.push(chunk);
        length += chunk.length;
      }
    });
    stream.once('end', () => resolve(Buffer.concat(chunks, length)));
    stream.once('error', reject);
  });
}

function toStored(
  raw: Buffer,
  parsed: ParsedMail | null,
  envelope: StoredMessage['envelope'],
  receivedAt: string,
): Omit<StoredMessage, 'id'> {
  const headers = headerMap(parsed?.headerLines ?? []);
  return {
    receivedAt,
    envelope,
    messageId: parsed?.messageId ?? headers['message-id'] ?? null,
    subject: parsed?.subject ?? headers['subject'] ?? '',
    from: addressText(parsed?.from),
    to: addressText(parsed?.to),
    replyTo: parsed?.replyTo ? addressText(parsed.replyTo) : null,
    listUnsubscribe: headers['list-unsubscribe'] ?? null,
    listUnsubscribePost: headers['list-unsubscribe-post'] ?? null,
    headers,
    text: parsed?.text ?? '',
    html: typeof parsed?.html === 'string' ? parsed.html : null,
    attachments: (parsed?.attachments ?? []).map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.size,
    })),
    raw: raw.toString('utf8'),
  };
}

function addressText(value: AddressObject | AddressObject[] | undefined): string {
  if (!value) return '';
  return (Array.isArray(value) ? value : [value]).map((a) => a.text).join(', ');
}

// mailparser folds List-* headers into one structured `list` entry, so the plain map is built
// from the raw header lines instead.
function headerMap(lines: ReadonlyArray<{ key: string; line: string }>): Record<string, string> {
  const map: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const { key, line } of lines) {
    const colon = line.indexOf(':');
    const value = decodeEncodedWords(line.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '').trim());
    const name = key.toLowerCase();
    const previous = map[name];
    map[name] = previous === undefined ? value : `${previous}\n${value}`;
  }
  return map;
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/** Decodes RFC 2047 encoded words; adjacent words in one charset are decoded together. */
export function decodeEncodedWords(value: string): string {
  let out = '';
  let last = 0;
  let run: { charset: string; bytes: Buffer[] } | null = null;
  for (const match of value.matchAll(ENCODED_WORD)) {
    const [word, charsetSpec = '', encoding = '', text = ''] = match;
    const gap = value.slice(last, match.index);
    const charset = (charsetSpec.split('*')[0] ?? '').toLowerCase();
    const bytes = encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQ(text);
    // Whitespace between two encoded words is not part of the text.
    const adjacent = run !== null && /^\s*$/.test(gap);
    if (run !== null && adjacent && run.charset === charset) {
      run.bytes.push(bytes);
    } else {
      if (run !== null) out += decodeBytes(Buffer.concat(run.bytes), run.charset);
      if (!adjacent) out += gap;
      run = { charset, bytes: [bytes] };
    }
    last = match.index + word.length;
  }
  if (run !== null) out += decodeBytes(Buffer.concat(run.bytes), run.charset);
  return out + value.slice(last);
}

function decodeQ(text: string): Buffer {
  const binary = text
    .replace(/_/g, ' ')
    .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(binary, 'latin1');
}

function decodeBytes(bytes: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset || 'utf-8').decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

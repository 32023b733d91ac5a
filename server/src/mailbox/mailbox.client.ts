// Small HTTP client for the development mailbox, for tests that need to read what was sent.
import type { MessageSummary, StoredMessage } from './mailbox.service.js';

export type MailboxMessage = StoredMessage;
export type MailboxMessageSummary = MessageSummary;

export interface MailboxFilter {
  /** Exact envelope recipient, case-insensitive. */
  to?: string;
  /** Case-insensitive substring of the subject. */
  subject?: string;
}

export interface WaitForOptions {
  /** Default 15000. */
  timeoutMs?: number;
  /** Default 100. */
  intervalMs?: number;
  /** Only consider messages sent to this envelope recipient. */
  to?: string;
}

export interface MailboxClient {
  /** Newest first, without html and raw. */
  list(filter?: MailboxFilter): Promise<MailboxMessageSummary[]>;
  /** The full message, or null when there is none with that id. */
  get(id: string): Promise<MailboxMessage | null>;
  clear(): Promise<void>;
  /** Polls until a message matches, newest first, and returns it in full. */
  waitFor(
    predicate: (m: MailboxMessageSummary) => boolean,
    opts?: WaitForOptions,
  ): Promise<MailboxMessage>;
}

export function mailboxClient(baseUrl: string): MailboxClient {
  const base = baseUrl.replace(/\/+$/, '');

  async function request(method: string, path: string, timeoutMs = 10_000): Promise<Response> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(Math.max(1, timeoutMs)),
    });
    return res;
  }

  async function fail(res: Response, what: string): Promise<never> {
    const body = await res.text().catch(() => '');
    throw new Error(`Mailbox ${what} failed: HTTP ${res.status} ${body.slice(0, 200)}`.trim());
  }

  async function list(filter: MailboxFilter = {}, timeoutMs?: number): Promise<MailboxMessageSummary[]> {
    const query = new URLSearchParams();
    if (filter.to) query.set('to', filter.to);
    if (filter.subject) query.set('subject', filter.subject);
    const qs = query.toString() ? `?${query.toString()}` : '';
    const res = await request('GET', `/api/messages${qs}`, timeoutMs);
    if (!res.ok) return fail(res, 'list');
    return (await res.json()) as MailboxMessageSummary[];
  }

  async function get(id: string, timeoutMs?: number): Promise<MailboxMessage | null> {
    const res = await request('GET', `/api/messages/${encodeURIComponent(id)}`, timeoutMs);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) return fail(res, `get ${id}`);
    return (await res.json()) as MailboxMessage;
  }

  async function clear(): Promise<void> {
    const res = await request('DELETE', '/api/messages');
    if (res.status !== 204 && !res.ok) return fail(res, 'clear');
    await res.body?.cancel();
  }

  async function waitFor(
    predicate: (m: MailboxMessageSummary) => boolean,
    opts: WaitForOptions = {},
  ): Promise<MailboxMessage> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const intervalMs = opts.intervalMs ?? 100;
    const deadline = Date.now() + timeoutMs;
    const seen = new Map<string, string>();
    let lastError: unknown = null;

    for (;;) {
      const remaining = deadline - Date.now();
      try {
        const messages = await list({ to: opts.to }, Math.min(remaining, 5_000));
        lastError = null;
        for (const m of messages) seen.set(m.id, m.subject);
        const match = messages.find(predicate);
        if (match) {
          const full = await get(match.id, Math.min(Math.max(deadline - Date.now(), 1_000), 5_000));
          if (full) return full;
        }
      } catch (err) {
        // A failing predicate is a bug in the test, not something to wait out.
        if (!isNetworkError(err)) throw err;
        lastError = err;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, left)));
    }

    const subjects = [...seen.values()];
    const parts = [
      `No matching message in the mailbox at ${base} after ${timeoutMs} ms`,
      opts.to ? ` (to ${opts.to})` : '',
      '. ',
      subjects.length
        ? `Subjects seen (${subjects.length}): ${subjects.map((s) => JSON.stringify(s)).join(', ')}.`
        : 'No messages seen.',
      lastError ? ` Last error: ${lastError instanceof Error ? lastError.message : String(lastError)}` : '',
    ];
    throw new Error(parts.join(''));
  }

  return { list: (filter) => list(filter), get: (id) => get(id), clear, waitFor };
}

function isNetworkError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // fetch rejects with TypeError on connection errors, AbortSignal.timeout with TimeoutError.
  return (
    (err instanceof TypeError && err.message === 'fetch failed') ||
    err.name === 'TimeoutError' ||
    err.name === 'AbortError' ||
    err.message.startsWith('Mailbox ')
  );
}

// Web UI and JSON API of the development mailbox. Every value taken from a message is escaped
// with escapeHtml before it goes into a page; HTML bodies are shown in a sandboxed srcdoc iframe.
import { fastify, type FastifyInstance, type FastifyReply } from 'fastify';
import type { MailboxStore, MessageSummary, StoredMessage } from './mailbox.service.js';

export interface MailboxHttpOptions {
  store: MailboxStore;
  /** Shown on the empty list page so people know where to send mail. */
  smtpPort: number;
  host: string;
}

export interface MessageFilter {
  to?: string;
  subject?: string;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for use in HTML content and in quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

export function summarize(m: StoredMessage): MessageSummary {
  return {
    id: m.id,
    receivedAt: m.receivedAt,
    envelope: m.envelope,
    messageId: m.messageId,
    subject: m.subject,
    from: m.from,
    to: m.to,
    replyTo: m.replyTo,
    listUnsubscribe: m.listUnsubscribe,
    listUnsubscribePost: m.listUnsubscribePost,
    headers: m.headers,
    text: m.text,
    attachments: m.attachments,
  };
}

export function filterMessages(messages: StoredMessage[], filter: MessageFilter): StoredMessage[] {
  const to = filter.to?.trim().toLowerCase();
  const subject = filter.subject?.toLowerCase();
  return messages.filter(
    (m) =>
      (!to || m.envelope.to.some((r) => r.toLowerCase() === to)) &&
      (!subject || m.subject.toLowerCase().includes(subject)),
  );
}

// Inherited by the srcdoc iframe too: no scripts anywhere, inline styles allowed so mail renders
// as it would in a client, and no remote images (no tracking pixels). Framing of the mailbox
// itself is refused by X-Frame-Options, not frame-ancestors, which the srcdoc frame would
// inherit and so refuse its own parent.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "frame-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

type IdParams = { Params: { id: string } };
type ListQuery = { Querystring: { to?: string | string[]; subject?: string | string[] } };

export function buildMailboxHttp(opts: MailboxHttpOptions): FastifyInstance {
  const { store } = opts;
  const app = fastify({ logger: false, forceCloseConnections: true });

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Cache-Control', 'no-store');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    return payload;
  });

  app.get<ListQuery>('/api/messages', async (request) => {
    const filter = { to: first(request.query.to), subject: first(request.query.subject) };
    return filterMessages(store.list(), filter).map(summarize);
  });

  app.get<IdParams>('/api/messages/:id', async (request, reply) => {
    const message = store.get(request.params.id);
    if (!message) return reply.code(404).send(notFound(request.params.id));
    return message;
  });

  app.get<IdParams>('/api/messages/:id/raw', async (request, reply) => {
    const message = store.get(request.params.id);
    if (!message) return reply.code(404).send(notFound(request.params.id));
    return reply.type('text/plain; charset=utf-8').send(message.raw);
  });

  app.delete('/api/messages', async (_request, reply) => {
    store.clear();
    return reply.code(204).send();
  });

  app.get('/', async (_request, reply) => {
    return sendPage(reply, 200, renderListPage(store.list(), opts));
  });

  app.get<IdParams>('/messages/:id', async (request, reply) => {
    const message = store.get(request.params.id);
    if (!message) return sendPage(reply, 404, renderNotFoundPage(request.params.id));
    return sendPage(reply, 200, renderMessagePage(message));
  });

  return app;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function notFound(id: string) {
  return { error: 'Not Found', message: `No message with id ${id}` };
}

function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
    .header('X-Frame-Options', 'DENY')
    .type('text/html; charset=utf-8')
    .send(html);
}

export const MAILBOX_CSS = `
  :root { color-scheme: light; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
    color: #1b1b1b; background: #fff; }
  header { background: #1d3557; color: #fff; padding: 0.75rem 1rem; }
  header a { color: #fff; font-weight: 600; }
  main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.5rem 0 1rem; overflow-wrap: anywhere; }
  h2 { font-size: 1.25rem; margin: 2rem 0 0.5rem; }
  a { color: #0b4f9c; }
  a:focus-visible { outline: 3px solid #f4a100; outline-offset: 2px; }
  .muted { color: #4a4a4a; }
  ul.messages { list-style: none; padding: 0; margin: 0; }
  ul.messages li { border-top: 1px solid #c8c8c8; padding: 0.75rem 0; }
  ul.messages h2 { font-size: 1.1rem; margin: 0 0 0.25rem; overflow-wrap: anywhere; }
  dl.meta { margin: 0; display: flex; flex-wrap: wrap; gap: 0 1.5rem; }
  dl.meta div { display: flex; gap: 0.4rem; min-width: 0; }
  dl.meta dt { color: #4a4a4a; }
  dl.meta dd { margin: 0; overflow-wrap: anywhere; min-width: 0; }
  table { border-collapse: collapse; width: 100%; }
  caption { text-align: left; color: #4a4a4a; }
  th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.5rem; border-bottom: 1px solid #c8c8c8;
    overflow-wrap: anywhere; }
  th[scope="row"] { width: 11rem; font-weight: 600; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f4f4; border: 1px solid #c8c8c8;
    padding: 0.75rem; font-size: 0.95rem; }
  iframe { width: 100%; height: 70vh; border: 1px solid #c8c8c8; background: #fff; }
  @media (max-width: 40rem) {
    th[scope="row"] { width: auto; }
    tr.pair th, tr.pair td { display: block; border: 0; padding: 0.1rem 0; }
    tr.pair { display: block; border-bottom: 1px solid #c8c8c8; padding: 0.4rem 0; }
  }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${MAILBOX_CSS}</style>
</head>
<body>
<header><a href="/">Chorus mailbox</a></header>
<main>
${body}
</main>
</body>
</html>
`;
}

function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
}

function subjectText(subject: string): string {
  return subject.trim() === '' ? '(no subject)' : subject;
}

function renderListPage(messages: StoredMessage[], opts: MailboxHttpOptions): string {
  const count = `${messages.length} message${messages.length === 1 ? '' : 's'}`;
  const intro =
    messages.length === 0
      ? `<p>No messages yet. Mail sent over SMTP to ${escapeHtml(opts.host)} port ${escapeHtml(opts.smtpPort)} shows up here; reload the page to check.</p>`
      : `<p class="muted">${count}, newest first. Reload the page to see new mail.</p>`;
  const items = messages
    .map(
      (m) => `<li>
<h2><a href="/messages/${encodeURIComponent(m.id)}">${escapeHtml(subjectText(m.subject))}</a></h2>
<dl class="meta">
<div><dt>From</dt><dd>${escapeHtml(m.from || m.envelope.from || '(none)')}</dd></div>
<div><dt>To</dt><dd>${escapeHtml(m.envelope.to.join(', ') || m.to)}</dd></div>
<div><dt>Received</dt><dd><time datetime="${escapeHtml(m.receivedAt)}">${escapeHtml(formatTime(m.receivedAt))}</time></dd></div>
</dl>
</li>`,
    )
    .join('\n');
  return page(
    'Chorus mailbox',
    `<h1>Chorus mailbox</h1>
${intro}
${messages.length ? `<ul class="messages" role="list">\n${items}\n</ul>` : ''}`,
  );
}

// Makes http(s) links in plain text clickable; everything else is escaped as text.
function linkify(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>"'`]+/g)) {
    const url = match[0].replace(/[.,;:!?)\]}]+$/, '');
    out += escapeHtml(text.slice(last, match.index));
    out += `<a href="${escapeHtml(url)}" rel="noreferrer">${escapeHtml(url)}</a>`;
    last = match.index + url.length;
  }
  return out + escapeHtml(text.slice(last));
}

function row(name: string, value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  return `<tr class="pair"><th scope="row">${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`;
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function renderMessagePage(m: StoredMessage): string {
  const id = encodeURIComponent(m.id);
  const summary = [
    row('Received', formatTime(m.receivedAt)),
    row('Envelope from', m.envelope.from || '(null sender)'),
    row('Envelope to', m.envelope.to.join(', ')),
    row('From', m.from),
    row('To', m.to),
    row('Reply-To', m.replyTo),
    row('Subject', m.subject),
    row('Message-ID', m.messageId),
    row('List-Unsubscribe', m.listUnsubscribe),
    row('List-Unsubscribe-Post', m.listUnsubscribePost),
  ]
    .filter(Boolean)
    .join('\n');

  const text = m.text
    ? `<pre>${linkify(m.text)}</pre>`
    : '<p>This message has no plain text part.</p>';

  const html =
    m.html !== null
      ? `<p class="muted">Shown in a sandbox: scripts, forms and pop-ups are disabled.</p>
<iframe sandbox="" srcdoc="${escapeHtml(m.html)}" title="HTML part of the message" referrerpolicy="no-referrer"></iframe>`
      : '<p>This message has no HTML part.</p>';

  const attachments = m.attachments.length
    ? `<h2>Attachments</h2>
<ul>
${m.attachments
  .map((a) => `<li>${escapeHtml(a.filename ?? '(unnamed)')} (${escapeHtml(a.contentType)}, ${escapeHtml(formatSize(a.size))})</li>`)
  .join('\n')}
</ul>`
    : '';

  const allHeaders = Object.entries(m.headers)
    .map(([name, value]) => row(name, value) || `<tr class="pair"><th scope="row">${escapeHtml(name)}</th><td></td></tr>`)
    .join('\n');

  return page(
    `${subjectText(m.subject)} - Chorus mailbox`,
    `<p><a href="/">Back to all messages</a></p>
<h1>${escapeHtml(subjectText(m.subject))}</h1>
<table>
<caption>Message ${escapeHtml(m.id)}</caption>
${summary}
</table>
<p><a href="/api/messages/${id}/raw">View raw source</a> · <a href="/api/messages/${id}">View as JSON</a></p>
<h2>Plain text</h2>
${text}
<h2>HTML</h2>
${html}
${attachments}
<h2>All headers</h2>
<table>
${allHeaders}
</table>`,
  );
}

function renderNotFoundPage(id: string): string {
  return page(
    'Message not found - Chorus mailbox',
    `<h1>Message not found</h1>
<p>There is no message with id ${escapeHtml(id)}. It may have been cleared, or dropped to make room for newer mail.</p>
<p><a href="/">Back to all messages</a></p>`,
  );
}

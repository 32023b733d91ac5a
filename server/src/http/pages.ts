// The bridge to the pages: every path outside /api goes to the SvelteKit handler
// (web/build/handler.js), with the body left unread for it. Before it does, form bodies are held
// to their limits (413/411 pages in the page's language, refusals.ts), and the client address Fastify worked
// out is passed on in PEER_HEADER. Every page is rendered for its request: a spike of readers is
// met by nginx's cache in front (deploy/nginx), which Chorus tells what it may share
// (web/src/hooks.server.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { verifyToken } from '../shared/tokens.ts';
import { PACKET_PURPOSE } from '../delivery/packet.service.ts';
import { drainAfterAnswer, isApiPath, refuse, refusalAnswer } from './refusals.ts';
import { notFoundHandler } from './errors.ts';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

/** the header through which the SvelteKit handler learns the client address (see server.ts) */
export const PEER_HEADER = 'x-chorus-peer';

/** Page form bodies (sign, confirm, my data, the staff console): 413 beyond this. */
export const PAGE_BODY_LIMIT = 512 * 1024;
/**
 * The officials' answer form on the packet page carries up to 3 attachments of 5 MB (base64 in
 * the API call, raw in the form): its own limit, the SvelteKit handler's BODY_SIZE_LIMIT
 * (server.ts sets both from this).
 */
export const ANSWER_FORM_BODY_LIMIT = 16 * 1024 * 1024;
const ANSWER_FORM = /^\/(?:[a-z]{2,3}\/)?packet\/([^/?#]+)\/?(?:[?#]|$)/;

/** A post to the packet page of a packet link that is valid now. */
function isAnswerForm(url: string, secret: string, now: Date): boolean {
  const m = ANSWER_FORM.exec(url);
  if (!m) return false;
  let token: string;
  try {
    token = decodeURIComponent(m[1]!);
  } catch {
    return false;
  }
  return verifyToken(secret, PACKET_PURPOSE, token, now).ok;
}

export interface PagesOptions {
  /** the built SvelteKit app's request handler */
  handler: NodeHandler;
  /** SECRET_KEY: packet links are checked with it (the answer form's larger limit) */
  secret: string;
  clock: () => Date;
}

/** the longest path segment the API's router reads as a parameter (app.ts routerOptions) */
export const MAX_PARAM_LENGTH = 1024;

export const pageRoutes: FastifyPluginAsyncZod<PagesOptions> = async (web, opts) => {
  const { handler } = opts;
  web.removeAllContentTypeParsers();
  web.addContentTypeParser('*', (_req, _payload, done) => done(null));
  // SvelteKit reads the client address from this header (ADDRESS_HEADER, set in
  // server.ts): the one Fastify worked out under TRUSTED_PROXIES, never one a client sent
  const toSvelteKit = async (req: FastifyRequest, reply: FastifyReply) => {
    // an API path no API route took (one whose segment is longer than the router reads, say) is
    // answered in JSON, as the API answers, never with a page
    if (isApiPath(req.url)) {
      if (req.url.split('?')[0]!.split('/').some((segment) => segment.length > MAX_PARAM_LENGTH)) {
        const { type, body } = refusalAnswer('bad-request', req.url, undefined, 414);
        return reply.code(414).type(type).send(body);
      }
      return notFoundHandler(req, reply);
    }
    // Form bodies are bounded before SvelteKit reads any of them: 512 kB, the answer form
    // its own limit. Over it, 413 at once from the Content-Length, without reading the body;
    // a body of unknown length (chunked) is refused with 411 outside the answer form (forms
    // in browsers always send a length), so no page buffers more than its limit. The unread
    // rest is dropped after the answer (refusals.ts).
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // the answer form's larger limit is for a packet link that is valid now: any other
      // path under /packet/ is held to the page limit, so no made-up link makes the server
      // read 16 MB
      const answerForm = isAnswerForm(req.url, opts.secret, opts.clock());
      const limit = answerForm ? ANSWER_FORM_BODY_LIMIT : PAGE_BODY_LIMIT;
      const length = req.headers['content-length'];
      if (length !== undefined ? Number(length) > limit : false) return refuse(req, reply, 'too-large');
      if (length === undefined && req.headers['transfer-encoding'] !== undefined && !answerForm) return refuse(req, reply, 'length-required');
    }
    req.raw.headers[PEER_HEADER] = req.ip;
    // A page that answers without reading the body it was posted (a form action that needs
    // none, an error before the body is read) must not leave the rest of the body in the
    // socket: the next request on that keep-alive connection would wait behind it forever.
    // Once the answer is sent, what is left is read and dropped (refusals.ts).
    drainAfterAnswer(req, reply);
    reply.hijack();
    handler(req.raw, reply.raw);
  };
  web.all('/*', { schema: { hide: true } }, toSvelteKit);
  web.all('/', { schema: { hide: true } }, toSvelteKit);
};

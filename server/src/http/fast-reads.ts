// The two reads a viral spike is made of, answered before Fastify routes the request: the
// public count of an action (`GET /api/actions/:slug/count`) and an action page rendered within
// the last second (page-cache.ts). Both come from memory already; through Fastify's routing,
// hooks and serializer each cost about twice a hello-world answer of server CPU (measured by
// the bench), so readers took CPU the signers needed. Here each is a lookup and a write.
//
// Anything else, and any miss (an action not in the cache, a page not rendered or expired, a
// request with a cookie), goes on to Fastify, which answers exactly as it always did.
// server/src/http/fast-reads.test.ts checks that both answers, headers included, are the
// ones Fastify gives.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActionCache } from '../action/action.service.ts';
import { cachedPageKey, pageCache } from '../shared/page-cache.ts';
import { apiSecurityHeaders } from './security-headers.ts';

const COUNT = /^\/api\/actions\/([a-z0-9-]{1,80})\/count$/;

export function fastReads(deps: { cache: ActionCache; hsts: string | null; pages: boolean }) {
  const security = apiSecurityHeaders(deps.hsts);
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    if (url.startsWith('/api/')) {
      const m = COUNT.exec(url);
      if (!m) return false;
      const action = deps.cache.peek(m[1]!);
      if (!action) return false;
      const body = JSON.stringify(deps.cache.publicCount(action));
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'public, max-age=1',
        ...security,
      });
      res.end(body);
      return true;
    }
    if (!deps.pages || req.headers.cookie !== undefined) return false;
    const key = cachedPageKey(url, req.headers['accept-language']);
    const hit = key ? pageCache().get(key) : undefined;
    if (!hit) return false;
    res.writeHead(hit.status, { ...hit.headers, 'x-cache': 'hit' });
    res.end(hit.body);
    return true;
  };
}

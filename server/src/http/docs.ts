// The API's documentation, served: the OpenAPI document at /api/openapi.json and its reference
// page at /api/docs (with its stylesheet). openapi.ts makes both from the routes' own schemas;
// the page is rendered once, on first request (the document does not change while the process runs).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { OpenAPIV3_1 } from 'openapi-types';
import { DOCS_CSP, DOCS_CSS, renderDocs } from './openapi.ts';

/** `document`: the app's OpenAPI document (app.swagger() of the root instance, which sees every route). */
export const docsRoutes: FastifyPluginAsyncZod<{ document: () => unknown }> = async (api, opts) => {
  api.get('/openapi.json', { schema: { hide: true } }, async () => opts.document());
  let docsHtml: string | undefined;
  api.get('/docs', { schema: { hide: true } }, async (_req, reply) => {
    docsHtml ??= renderDocs(opts.document() as OpenAPIV3_1.Document);
    return reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CSP).header('cache-control', 'public, max-age=300').send(docsHtml);
  });
  api.get('/docs/docs.css', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('content-security-policy', DOCS_CSP).header('cache-control', 'public, max-age=300').send(DOCS_CSS),
  );
};

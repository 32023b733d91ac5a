// The OpenAPI document: valid OpenAPI 3.1, complete (every route has a summary, a tag and the
// shared error shape), rendered as a self-contained reference page, and true to what the API
// really answers (checked by documented() against the real database).
import { compileErrors, validate } from '@readme/openapi-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, signBody, type Harness } from '../testing/harness.ts';
import { assertDocumented, checkEveryInject, documented } from '../testing/openapi.ts';
import Fastify from 'fastify';
import swagger from '@fastify/swagger';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { swaggerOptions } from './openapi.ts';

let h: Harness;
let doc: OpenAPIV3_1.Document;

beforeAll(async () => {
  h = await createHarness();
  doc = (await h.app.inject({ url: '/api/openapi.json' })).json();
});
afterAll(async () => h?.close());

function operations() {
  const ops: { method: string; path: string; op: OpenAPIV3_1.OperationObject }[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = item?.[method];
      if (op) ops.push({ method, path, op });
    }
  }
  return ops;
}

describe('the OpenAPI document', () => {
  it('validates against the OpenAPI 3.1 schema', async () => {
    // validate() dereferences in place: give it a copy
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('documents every route with a summary, a tag and the shared error shape', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(20);
    for (const { method, path, op } of ops) {
      expect(op.summary, `${method} ${path} summary`).toBeTruthy();
      expect(op.tags?.length, `${method} ${path} tags`).toBeGreaterThan(0);
      const res = op.responses as Record<string, OpenAPIV3_1.ResponseObject>;
      const err = res['4XX']?.content?.['application/json']?.schema as OpenAPIV3_1.SchemaObject | undefined;
      expect(err?.required, `${method} ${path} 4XX`).toEqual(expect.arrayContaining(['statusCode', 'error', 'code', 'message']));
      expect(res['5XX'], `${method} ${path} 5XX`).toBeDefined();
    }
  });

  it('states how staff routes authenticate', () => {
    for (const { method, path, op } of operations().filter((o) => o.path.startsWith('/api/admin'))) {
      expect(op.security, `${method} ${path}`).toEqual([{ staffSession: [] }]);
    }
  });

  it('gives examples of the signing body', () => {
    const sign = doc.paths?.['/api/actions/{slug}/signatures']?.post;
    const media = (sign?.requestBody as OpenAPIV3_1.RequestBodyObject).content['application/json'];
    expect(media?.example).toMatchObject({ email: 'ana@example.org', consentCount: true });
  });
});

describe('/api/docs', () => {
  it('is a page with every route, our stylesheet only, no script, under a strict CSP', async () => {
    const res = await h.app.inject({ url: '/api/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toMatch(/script-src|unsafe/);
    expect(res.body).not.toMatch(/<script|style=/i);
    // nothing from another origin: every src/href is ours or a fragment
    for (const [, url] of res.body.matchAll(/(?:src|href)="([^"]+)"/g)) expect(url).toMatch(/^(\/|#)/);
    for (const { path } of operations()) expect(res.body).toContain(path.replaceAll('&', '&amp;'));
    expect(res.body).toContain('Authorization: Bearer');

    const css = await h.app.inject({ url: '/api/docs/docs.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });
});

describe('real responses match the document', () => {
  it('public routes: lists, one action, signing, errors', async () => {
    const inject = documented(h.app);
    const { action } = await createAction(h.db);
    await h.cache.refresh();
    expect((await inject({ url: '/api/actions' })).statusCode).toBe(200);
    expect((await inject({ url: `/api/actions/${action.slug}` })).statusCode).toBe(200);
    expect((await inject({ url: '/api/actions/no-such-action' })).statusCode).toBe(404);
    expect((await inject({ url: '/api/actions/BAD SLUG' })).statusCode).toBe(422);
    expect((await inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: signBody() })).statusCode).toBe(202);
    expect((await inject({ method: 'POST', url: `/api/actions/${action.slug}/signatures`, payload: { email: 'x' } })).statusCode).toBe(422);
    const badJson = await inject({
      method: 'POST',
      url: `/api/actions/${action.slug}/signatures`,
      payload: '{"email":',
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.statusCode).toBe(400);
    expect((await inject({ url: '/api/confirmations/not-a-token' })).statusCode).toBe(404);
    expect((await inject({ url: '/api/staff/me' })).statusCode).toBe(401);
    expect((await inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('every inject of a test app is checked: an undeclared status fails the test that made it', async () => {
    const app = Fastify().withTypeProvider<ZodTypeProvider>();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(swagger, swaggerOptions('http://chorus.test'));
    app.get('/api/thing', { schema: { summary: 'A thing', tags: ['actions'], response: { 200: z.object({ ok: z.boolean() }) } } }, async (_req, reply) =>
      // a status the schema does not declare, on purpose
      reply.code(201 as 200).send({ ok: true }),
    );
    await app.ready();
    checkEveryInject(app);
    await expect(app.inject({ url: '/api/thing' })).rejects.toThrow(/answered 201, which the document does not list/);
    // routes the document does not list are not checked
    expect((await app.inject({ url: '/api/elsewhere' })).statusCode).toBe(404);
    await app.close();
  });

  it('the checker fails on a body the document does not allow', async () => {
    const res = await h.app.inject({ url: '/healthz' });
    const forged = { ...res, statusCode: 200, body: JSON.stringify({ status: 'fine' }) } as typeof res;
    expect(() => assertDocumented(h.app, 'GET', '/healthz', forged)).toThrow(/does not match/);
    expect(() => assertDocumented(h.app, 'GET', '/nowhere', res)).toThrow(/not in the OpenAPI document/);
  });
});

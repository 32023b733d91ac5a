// Test support: checks real responses against the OpenAPI document the app serves, so the
// document cannot drift from what the API answers. Use `documented(app)` in place of
// `app.inject` (same options, same result): every JSON response is checked against the
// response schema the document gives for that path, method and status (exact code, then
// 4XX/5XX, then default), and an undocumented status fails the test.
//
//   const inject = documented(h.app);
//   const res = await inject({ method: 'GET', url: '/api/v1/actions', headers });
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { OpenAPIV3_1 } from 'openapi-types';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM interop
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

interface Compiled {
  doc: OpenAPIV3_1.Document;
  routes: { method: string; path: string; pattern: RegExp; op: OpenAPIV3_1.OperationObject }[];
  ajv: Ajv2020;
}

const compiled = new WeakMap<FastifyInstance, Compiled>();

function compile(app: FastifyInstance): Compiled {
  const hit = compiled.get(app);
  if (hit) return hit;
  const doc = app.swagger() as OpenAPIV3_1.Document;
  const routes: Compiled['routes'] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = item?.[method];
      if (!op) continue;
      const source = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
      routes.push({ method: method.toUpperCase(), path, pattern: new RegExp(`^${source}/?$`), op });
    }
  }
  // literal segments first, so /api/v1/actions/counts is not taken for /api/v1/actions/{slug}
  const params = (p: string) => p.match(/\{/g)?.length ?? 0;
  routes.sort((a, b) => params(a.path) - params(b.path));
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  const c = { doc, routes, ajv };
  compiled.set(app, c);
  return c;
}

/** The operation the document gives for a request, or undefined. */
export function findOperation(app: FastifyInstance, method: string, url: string) {
  const path = url.replace(/[?#].*$/, '');
  return compile(app).routes.find((r) => r.method === method.toUpperCase() && r.pattern.test(path));
}

/** Throws (with the reasons) unless the response matches the document. */
export function assertDocumented(app: FastifyInstance, method: string, url: string, res: LightMyRequestResponse): void {
  const { ajv } = compile(app);
  const route = findOperation(app, method, url);
  if (!route) throw new Error(`${method} ${url} is not in the OpenAPI document`);
  const responses = (route.op.responses ?? {}) as Record<string, OpenAPIV3_1.ResponseObject>;
  const status = String(res.statusCode);
  const entry = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
  if (!entry) throw new Error(`${method} ${route.path} answered ${status}, which the document does not list (${Object.keys(responses).join(', ')})`);
  const type = String(res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  if (!entry.content || res.statusCode === 204 || res.statusCode === 303) return;
  const media = entry.content[type] ?? (type.endsWith('json') ? (entry.content['application/json'] ?? entry.content['application/hal+json']) : undefined);
  if (!media) {
    if (type.endsWith('json')) throw new Error(`${method} ${route.path} ${status} answered ${type}; the document lists ${Object.keys(entry.content).join(', ')}`);
    return; // CSV, PDF, HTML: the document names the type, the body is not JSON to check
  }
  if (!media.schema) return;
  const key = `${route.method} ${route.path} ${status} ${type}`;
  const validate = ajv.getSchema(key) ?? (ajv.addSchema(media.schema as object, key), ajv.getSchema(key));
  if (!validate) throw new Error(`could not compile the schema for ${key}`);
  const body = res.body === '' ? null : (JSON.parse(res.body) as unknown);
  if (!validate(body)) {
    throw new Error(`${key} does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\nbody: ${res.body.slice(0, 500)}`);
  }
}

/** app.inject, with every answer checked against the document. */
export function documented(app: FastifyInstance) {
  return async (opts: InjectOptions): Promise<LightMyRequestResponse> => {
    const res = await app.inject(opts);
    assertDocumented(app, opts.method ?? 'GET', String(opts.url ?? opts.path ?? '/'), res);
    return res;
  };
}

/**
 * Makes every `app.inject(opts)` of a test app check its answer against the document, for the
 * routes the document lists (hidden routes, pages and unknown paths pass unchecked, and so do
 * redirects). createHarness() does this for every API test.
 */
export function checkEveryInject(app: FastifyInstance): void {
  const inject = app.inject.bind(app) as (opts: InjectOptions) => Promise<LightMyRequestResponse>;
  const checked = async (opts: InjectOptions | string) => {
    const o = typeof opts === 'string' ? { url: opts } : opts;
    const res = await inject(o);
    const method = o.method ?? 'GET';
    const url = String(o.url ?? o.path ?? '/');
    if (res.statusCode >= 300 && res.statusCode < 400) return res;
    if (method.toUpperCase() !== 'HEAD' && findOperation(app, method, url)) assertDocumented(app, method, url, res);
    return res;
  };
  (app as unknown as { inject: typeof checked }).inject = checked;
}

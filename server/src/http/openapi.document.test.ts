// The document the web's API types are generated from (at build time, without a server,
// database or Redis) is the one the running API serves: the pages are checked against what the
// API really says it takes and answers.
import type { OpenAPIV3_1 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../testing/harness.ts';
import { openapiDocument } from './openapi.document.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

describe('the OpenAPI document for the web build', () => {
  it('is built without PostgreSQL or Redis, and is the document the API serves', async () => {
    const built = await openapiDocument();
    const served = (await h.app.inject({ url: '/api/openapi.json' })).json() as OpenAPIV3_1.Document;
    // only where the API says it is served differs
    expect({ ...built, servers: undefined }).toEqual({ ...served, servers: undefined });
  });

  it('gives every route the pages call a JSON answer to type', async () => {
    const doc = await openapiDocument();
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      if (!path.startsWith('/api/') || path.startsWith('/api/v1') || path.startsWith('/api/osdi')) continue;
      for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
        const op = item?.[method];
        if (!op) continue;
        const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
        expect(ok.length, `${method} ${path}`).toBeGreaterThan(0);
        for (const [status, response] of ok) {
          if (status === '204') continue;
          const content = (response as OpenAPIV3_1.ResponseObject).content ?? {};
          expect(Object.keys(content).length, `${method} ${path} ${status}`).toBeGreaterThan(0);
        }
      }
    }
  });
});

// Writes the web's API types from the OpenAPI document: web/src/lib/api/schema.d.ts (git-ignored,
// generated). The document is built from the route schemas without a server, database or Redis
// (server/src/http/openapi.document.ts), so the pages are type-checked against exactly what the
// API says it takes and answers. The file is written only when its text changes, so the web is
// rebuilt only when the contract does.
//
//   node --import tsx server/bin/web-contract.ts
//
// server/bin/chorus.mjs runs this before the web build and before svelte-check, whenever a file
// under server/src is newer than its last run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { openapiDocument } from '../src/http/openapi.document.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WEB_SCHEMA = join(ROOT, 'web', 'src', 'lib', 'api', 'schema.d.ts');

const HEADER = `// Generated from the Chorus API's OpenAPI document by server/bin/web-contract.ts: do not edit.
// The route schemas under server/src/http/routes are the source; the web's names for these
// shapes are in web/src/lib/api/types.ts.
`;

export async function writeWebContract(): Promise<boolean> {
  const doc = await openapiDocument();
  const ast = await openapiTS(doc as unknown as OpenAPI3, { silent: true });
  const text = HEADER + astToString(ast);
  if (existsSync(WEB_SCHEMA) && readFileSync(WEB_SCHEMA, 'utf8') === text) return false;
  mkdirSync(dirname(WEB_SCHEMA), { recursive: true });
  writeFileSync(WEB_SCHEMA, text);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const changed = await writeWebContract();
  console.log(changed ? `wrote ${WEB_SCHEMA.slice(ROOT.length + 1)}` : `${WEB_SCHEMA.slice(ROOT.length + 1)} is up to date`);
}

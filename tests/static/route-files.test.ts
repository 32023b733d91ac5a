// Route files hold no SQL: a route validates, calls a service and shapes the answer. Queries,
// transactions and the database driver live in the services of each concept (server/src/<concept>/),
// where they are typed against the schema. This reads every route file under
// server/src/http/routes/ and names the file and what it found.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const ROUTES = join(ROOT, 'server', 'src', 'http', 'routes');

function routeFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return routeFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

const FORBIDDEN: [RegExp, string][] = [
  [/\bfrom\s+['"](?:pg|pg-cursor|kysely|@prisma\/client)['"]|\bimport\(\s*['"](?:pg|pg-cursor|kysely|@prisma\/client)['"]\s*\)/, 'imports a database driver or query builder'],
  [/\bfrom\s+['"][^'"]*\/db\/(?:prisma|hot-statements|ping)\.ts['"]/, 'imports the data layer (server/src/db)'],
  [/\binTransaction\s*\(/, 'opens a transaction'],
  [/\bqb\s*\(/, 'builds a query (qb)'],
  [/\.query\s*[(<]/, 'runs a query (.query)'],
  [/\bsql\s*`|\bsql\.(?:raw|ref|lit|join|id|table)\s*\(/, 'writes SQL (the sql tag)'],
  [/\b(?:SELECT\s+[\w*"(]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b/, 'holds an SQL statement'],
];

/** What a route file may take from server/src/db/db.ts: the schema's enums (ActionKind, SignatureStatus ...), nothing that reaches the database. */
const DB_MODULE_DENIED = new Set(['qb', 'inTransaction', 'createDb', 'Queryable', 'Db', 'DB']);

function dbModuleImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\bimport\s+(type\s+)?([^;]*?)\s+from\s+['"][^'"]*\/db\/db\.ts['"]/g)) {
    const clause = m[2]!;
    const named = /^\{([^}]*)\}$/.exec(clause.trim());
    if (!named) {
      found.push(clause.trim());
      continue;
    }
    for (const spec of named[1]!.split(',')) {
      const name = spec.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!;
      if (DB_MODULE_DENIED.has(name)) found.push(name);
    }
  }
  return found;
}

/** What in `text` is SQL or the means to run it, one description per kind found. */
function sqlFindings(text: string): string[] {
  const found = FORBIDDEN.filter(([re]) => re.test(text)).map(([, what]) => what);
  const fromDb = dbModuleImports(text);
  if (fromDb.length) found.push(`imports ${fromDb.join(', ')} from the data layer (db.ts: only its enums are for routes)`);
  return found;
}

describe('route files', () => {
  const files = routeFiles(ROUTES);

  it('finds the route files', () => {
    expect(files.map((f) => relative(ROOT, f))).toEqual(expect.arrayContaining([join('server', 'src', 'http', 'routes', 'v1.ts'), join('server', 'src', 'http', 'routes', 'admin', 'queues.ts')]));
  });

  it('the check sees each kind of SQL', () => {
    const samples = [
      "import type pg from 'pg';",
      "import { sql } from 'kysely';",
      "import { qb } from '../../db/db.ts';",
      "import { ActionKind, inTransaction } from '../../../db/db.ts';",
      "import type { Queryable } from '../../db/db.ts';",
      "import * as db from '../../db/db.ts';",
      "import { pingDatabase } from '../../db/ping.ts';",
      'await inTransaction(pool, async (tx) => {});',
      "await qb(pool).selectFrom('actions').execute();",
      "await pool.query('SELECT 1');",
      'await tx.query<{ id: string }>(text, []);',
      'await sql`select 1`.execute(k);',
      "const text = 'UPDATE actions SET signing_enabled = true';",
    ];
    for (const sample of samples) expect(sqlFindings(sample), sample).not.toEqual([]);
    expect(sqlFindings("import { z } from 'zod';\nconst x = z.object({ status: z.enum(['PUBLISHED']) }); // select an action")).toEqual([]);
    // the schema's enums are for routes too
    expect(sqlFindings("import { ActionKind, type SignatureStatus } from '../../db/db.ts';\nconst kind = z.enum(ActionKind);")).toEqual([]);
  });

  it.each(files.map((f) => [relative(ROOT, f), f]))('%s holds no SQL and no database access', (name, path) => {
    const found = sqlFindings(readFileSync(path, 'utf8'));
    expect(found, `${name}: ${found.join('; ')} (move it into the service of its concept)`).toEqual([]);
  });
});

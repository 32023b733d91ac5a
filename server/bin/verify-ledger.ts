// `npm run verify-ledger`: recomputes the tree root and chain root of every delivery from the
// database (server/src/delivery/ledger-check.ts) and prints a line for each delivery whose
// signatures no longer match what was stored and published, then a summary. Exit code 0 when
// everything matches, 1 when a delivery does not, 2 when the check could not run.
//
//   npm run verify-ledger                      every action
//   npm run verify-ledger -- --action <slug>   one action (repeatable)
//
// DATABASE_URL says which database (the platform's own by default).
import { createDb, qb } from '../src/db/db.ts';
import { checkLedger, problemLine } from '../src/delivery/ledger-check.ts';

const USAGE = 'usage: npm run verify-ledger [-- --action <slug> ...]';

function fail(message: string): never {
  console.error(`verify-ledger: ${message}`);
  process.exit(2);
}

function parseArgs(argv: string[]): { slugs: string[] } {
  const slugs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--action' || a.startsWith('--action=')) {
      const value = a === '--action' ? argv[++i] : a.slice('--action='.length);
      if (!value) fail(`--action needs an action's slug\n${USAGE}`);
      slugs.push(value);
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${a}\n${USAGE}`);
  }
  return { slugs };
}

const fmt = (n: number) => n.toLocaleString('en');

async function main(): Promise<number> {
  const { slugs } = parseArgs(process.argv.slice(2));
  const db = createDb(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus', { max: 2, applicationName: 'chorus-verify-ledger' });
  try {
    let actionIds: string[] | undefined;
    if (slugs.length > 0) {
      const rows = await qb(db.pool).selectFrom('actions').select(['id', 'slug']).where('slug', 'in', slugs).execute();
      const missing = slugs.filter((s) => !rows.some((r) => r.slug === s));
      if (missing.length > 0) fail(`no action ${missing.map((s) => `"${s}"`).join(', ')}`);
      actionIds = rows.map((r) => r.id);
    }
    let last = 0;
    const result = await checkLedger(db.pool, {
      actionIds,
      onProgress: (done, total) => {
        // a line at most every two seconds, and at the end
        if (done === total || Date.now() - last > 2_000) {
          last = Date.now();
          console.log(`verify-ledger: ${fmt(done)} of ${fmt(total)} deliveries recomputed`);
        }
      },
    });
    for (const p of result.problems) console.log(problemLine(p));
    const checked = `${fmt(result.deliveries)} deliveries of ${fmt(result.actions)} actions, ${fmt(result.leaves)} receipt leaves`;
    if (result.problems.length === 0) {
      console.log(`verify-ledger: OK, ${checked}: every tree root and chain root matches what was published`);
      return 0;
    }
    console.log(`verify-ledger: ${fmt(result.problems.length)} ${result.problems.length === 1 ? 'delivery does' : 'deliveries do'} not match what was published (${checked} checked)`);
    return 1;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => fail(err instanceof Error ? err.message : String(err)),
);

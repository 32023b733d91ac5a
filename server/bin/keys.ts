// `npm run keys -- <command>`: the keys that seal personal data (server/src/privacy/personal-data.ts).
//
//   status   how many data keys are wrapped under each key-encryption key, and rows not yet sealed
//   seal     seals the rows stored in clear before sealing existed (the *_clear columns), each under
//            a new data key, and empties them; `npm start` and the deploy's migration unit run it
//   reindex  computes every blind index again under the current SECRET_KEY (after rotating it):
//            the addresses' and their domains' (opened from the sealed addresses), waiting
//            sign-ups' fingerprints and paper signers' name keys; run with signing paused
//   rotate   a new key-encryption key: with the keyring file (DATA_KEY_FILE, `npm start`'s
//            .data/data-keys.json), adds it as the current key, waits for every process to
//            see it, re-wraps every data key under it, then drops the old keys from the file.
//            With DATA_KEY set, re-wraps every data key under DATA_KEY (set the new key as DATA_KEY
//            and the old one as DATA_KEY_PREVIOUS on every process first), after which
//            DATA_KEY_PREVIOUS can go. Either way nothing stops: every process opens data keys
//            wrapped under any key it knows, and reads the keyring file again when it changes.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { inTransaction } from '../src/db/db.ts';
import {
  emailDomainIndex,
  emailIndex,
  KEYRING_RELOAD_MS,
  loadKeyring,
  newDataKey,
  open,
  openLetter,
  openName,
  parseKeyringFile,
  seal,
  sealLetter,
  sealName,
  unwrapDataKey,
  wrapDataKey,
  type KeyOwner,
} from '../src/privacy/personal-data.ts';
import { canonicalEmail } from '../src/supporter/email.ts';
import { paperNameKey } from '../src/action/paper.service.ts';
import { detailsVersion } from '../src/signature/signature.repository.ts';

const say = (msg: string) => console.log(msg);

/** The tables whose rows hold a wrapped data key, and its column. */
const WRAPPED: { owner: KeyOwner; table: 'supporters' | 'paper_imports' | 'export_jobs'; column: 'data_key' | 'file_key' }[] = [
  { owner: 'supporter', table: 'supporters', column: 'data_key' },
  { owner: 'paper-import', table: 'paper_imports', column: 'data_key' },
  { owner: 'export', table: 'export_jobs', column: 'file_key' },
];

const BATCH = 1_000;

async function status(pool: pg.Pool): Promise<void> {
  const ring = loadKeyring();
  say(`current key-encryption key: ${ring.current.id.toString('hex')}; known: ${ring.all.map((k) => k.id.toString('hex')).join(', ')}`);
  for (const w of WRAPPED) {
    const { rows } = await pool.query<{ kek: string; n: number }>(
      `SELECT encode(substring(${w.column} from 2 for 8), 'hex') AS kek, count(*)::int AS n FROM ${w.table} WHERE ${w.column} IS NOT NULL GROUP BY 1 ORDER BY 1`,
    );
    say(`${w.table}: ${rows.length === 0 ? 'no data keys' : rows.map((r) => `${r.n} under ${r.kek}`).join(', ')}`);
  }
  say(`rows in clear from before sealing: ${await clearRows(pool)}`);
}

async function clearRows(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT
      (SELECT count(*) FROM supporters WHERE canonical_email_clear IS NOT NULL OR email_clear IS NOT NULL OR first_name_clear IS NOT NULL OR last_name_clear IS NOT NULL)
    + (SELECT count(*) FROM signatures WHERE pending_first_name_clear IS NOT NULL OR pending_last_name_clear IS NOT NULL OR letter_subject_clear IS NOT NULL OR letter_body_clear IS NOT NULL)
    + (SELECT count(*) FROM paper_signatures WHERE first_name_clear IS NOT NULL OR last_name_clear IS NOT NULL) AS n`);
  return Number(rows[0]!.n);
}

/**
 * Seals what was stored in clear before sealing: each such supporter gets a data key, their
 * address, name and their signatures' names and letters are sealed under it (and their
 * signatures get receipts), and the clear columns are emptied; paper imports likewise. In
 * batches, each its own transaction, so it can be stopped and run again.
 */
async function sealLegacy(pool: pg.Pool): Promise<void> {
  let supporters = 0;
  for (;;) {
    const done = await inTransaction(pool, async (c) => {
      const { rows } = await c.query<{ id: string; canonical_email_clear: string | null; email_clear: string | null; first_name_clear: string | null; last_name_clear: string | null; data_key: Buffer | null }>(
        `SELECT id, canonical_email_clear, email_clear, first_name_clear, last_name_clear, data_key FROM supporters
         WHERE canonical_email_clear IS NOT NULL OR email_clear IS NOT NULL OR first_name_clear IS NOT NULL OR last_name_clear IS NOT NULL
         ORDER BY id LIMIT ${BATCH} FOR UPDATE`,
      );
      for (const r of rows) {
        const { key, wrapped } = r.data_key ? { key: unwrapDataKey('supporter', r.id, r.data_key), wrapped: r.data_key } : newDataKey('supporter', r.id);
        const canonical = r.email_clear ? canonicalEmail(r.email_clear) : r.canonical_email_clear;
        // an erased supporter's canonical email was already a random value: it stays one
        const erased = r.email_clear === null;
        await c.query(
          `UPDATE supporters SET data_key = $2, email = $3, name = $4, email_index = COALESCE(email_index, $5), email_domain_index = COALESCE(email_domain_index, $6),
                  canonical_email_clear = NULL, email_clear = NULL, first_name_clear = NULL, last_name_clear = NULL
           WHERE id = $1`,
          [
            r.id,
            erased ? null : wrapped,
            r.email_clear === null ? null : seal(key, r.id, 'email', r.email_clear),
            erased ? null : sealName(key, r.id, r.first_name_clear, r.last_name_clear),
            erased || !canonical ? randomBytes(32).toString('hex') : emailIndex(canonical),
            erased || !canonical ? null : emailDomainIndex(canonical),
          ],
        );
        const sigs = await c.query<{ id: string; pending_first_name_clear: string | null; pending_last_name_clear: string | null; letter_subject_clear: string | null; letter_body_clear: string | null }>(
          `SELECT id, pending_first_name_clear, pending_last_name_clear, letter_subject_clear, letter_body_clear FROM signatures WHERE supporter_id = $1`,
          [r.id],
        );
        for (const s of sigs.rows) {
          await c.query(
            // a fingerprint of the details written before fingerprints were keyed: kept while the
            // sign-up waits (its emailed link carries it), dropped otherwise (it could be tried against names)
            `UPDATE signatures SET pending_name = COALESCE($2, pending_name), letter = COALESCE($3, letter),
                    pending_first_name_clear = NULL, pending_last_name_clear = NULL, letter_subject_clear = NULL, letter_body_clear = NULL,
                    signup_version = CASE WHEN status = 'PENDING' THEN signup_version END
             WHERE id = $1`,
            [s.id, erased ? null : sealName(key, r.id, s.pending_first_name_clear, s.pending_last_name_clear), erased ? null : sealLetter(key, r.id, s.letter_subject_clear, s.letter_body_clear)],
          );
        }
      }
      return rows.length;
    });
    supporters += done;
    if (done < BATCH) break;
  }
  let paper = 0;
  for (;;) {
    const done = await inTransaction(pool, async (c) => {
      const { rows } = await c.query<{ id: string; import_id: string; first_name_clear: string | null; last_name_clear: string | null; country: string | null; data_key: Buffer | null }>(
        `SELECT p.id, p.import_id, p.first_name_clear, p.last_name_clear, p.country, i.data_key FROM paper_signatures p JOIN paper_imports i ON i.id = p.import_id
         WHERE p.first_name_clear IS NOT NULL OR p.last_name_clear IS NOT NULL ORDER BY p.import_id, p.id LIMIT ${BATCH} FOR UPDATE OF p, i`,
      );
      const keys = new Map<string, Buffer>();
      for (const r of rows) {
        let key = keys.get(r.import_id) ?? (r.data_key ? unwrapDataKey('paper-import', r.import_id, r.data_key) : undefined);
        if (!key) {
          const made = newDataKey('paper-import', r.import_id);
          await c.query(`UPDATE paper_imports SET data_key = $2 WHERE id = $1`, [r.import_id, made.wrapped]);
          key = made.key;
        }
        keys.set(r.import_id, key);
        await c.query(
          `UPDATE paper_signatures SET name = $2, has_name = $3, name_key = $4, first_name_clear = NULL, last_name_clear = NULL WHERE id = $1`,
          [r.id, sealName(key, r.import_id, r.first_name_clear, r.last_name_clear), Boolean(r.first_name_clear || r.last_name_clear), paperNameKey(r.first_name_clear, r.last_name_clear, r.country)],
        );
      }
      return rows.length;
    });
    paper += done;
    if (done < BATCH) break;
  }
  say(supporters + paper === 0 ? 'nothing stored in clear: every row is sealed' : `sealed ${supporters} supporters (with their sign-ups) and ${paper} paper signatures`);
}

/**
 * Every blind index again, under the current SECRET_KEY: after SECRET_KEY is rotated, each
 * returning signer would otherwise be a new supporter. Opened from what is sealed, in batches.
 */
async function reindex(pool: pg.Pool): Promise<void> {
  let supporters = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const n = await inTransaction(pool, async (c) => {
      const { rows } = await c.query<{ id: string; data_key: Buffer; email: Buffer }>(
        `SELECT id, data_key, email FROM supporters WHERE id > $1 AND data_key IS NOT NULL AND email IS NOT NULL ORDER BY id LIMIT ${BATCH} FOR UPDATE`,
        [after],
      );
      for (const r of rows) {
        const key = unwrapDataKey('supporter', r.id, r.data_key);
        const canonical = canonicalEmail(open(key, r.id, 'email', r.email));
        await c.query(`UPDATE supporters SET email_index = $2, email_domain_index = $3 WHERE id = $1`, [r.id, emailIndex(canonical), emailDomainIndex(canonical)]);
        // a waiting sign-up's fingerprint, as a new sign-up with the same details now makes it
        const sigs = await c.query<{ id: string; pending_name: Buffer | null; letter: Buffer | null; country: string; named_disclosure: boolean; named_to_own_country: boolean; public_wall: boolean; pending_contact: boolean | null }>(
          `SELECT id, pending_name, letter, country, named_disclosure, named_to_own_country, public_wall, pending_contact FROM signatures WHERE supporter_id = $1 AND status = 'PENDING' AND signup_version IS NOT NULL`,
          [r.id],
        );
        for (const sg of sigs.rows) {
          const name = openName(key, r.id, sg.pending_name);
          const letter = openLetter(key, r.id, sg.letter);
          const version = detailsVersion([name.first ?? '', name.last ?? '', sg.country, sg.named_disclosure, sg.named_disclosure && sg.named_to_own_country, sg.public_wall, sg.pending_contact ?? false, letter.subject, letter.body]);
          await c.query(`UPDATE signatures SET signup_version = $2 WHERE id = $1`, [sg.id, version]);
        }
      }
      if (rows.length) after = rows[rows.length - 1]!.id;
      return rows.length;
    });
    supporters += n;
    if (n > 0) process.stdout.write(`\rre-indexed ${supporters} supporters...`);
    if (n < BATCH) break;
  }
  if (supporters > 0) process.stdout.write('\n');
  const paper = await pool.query<{ id: string; import_id: string; name: Buffer; country: string | null; data_key: Buffer }>(
    `SELECT p.id, p.import_id, p.name, p.country, i.data_key FROM paper_signatures p JOIN paper_imports i ON i.id = p.import_id WHERE p.name IS NOT NULL AND i.data_key IS NOT NULL`,
  );
  for (const r of paper.rows) {
    const name = openName(unwrapDataKey('paper-import', r.import_id, r.data_key), r.import_id, r.name);
    await pool.query(`UPDATE paper_signatures SET name_key = $2 WHERE id = $1`, [r.id, paperNameKey(name.first, name.last, r.country)]);
  }
  say(`re-indexed ${supporters} supporters and ${paper.rows.length} paper signatures under the current SECRET_KEY`);
}

/** Re-wraps every data key not under the current key-encryption key, in batches. */
async function rewrapAll(pool: pg.Pool): Promise<number> {
  const current = loadKeyring().current;
  let total = 0;
  for (const w of WRAPPED) {
    for (;;) {
      const n = await inTransaction(pool, async (c) => {
        const { rows } = await c.query<{ id: string; wrapped: Buffer }>(
          `SELECT id, ${w.column} AS wrapped FROM ${w.table} WHERE ${w.column} IS NOT NULL AND substring(${w.column} from 2 for 8) <> $1 ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
          [current.id],
        );
        for (const r of rows) {
          const key = unwrapDataKey(w.owner, r.id, r.wrapped);
          // only if it has not changed meanwhile (an erasure destroys it)
          await c.query(`UPDATE ${w.table} SET ${w.column} = $2 WHERE id = $1 AND ${w.column} = $3`, [r.id, wrapDataKey(w.owner, r.id, key, current), r.wrapped]);
        }
        return rows.length;
      });
      total += n;
      if (n > 0) process.stdout.write(`\rre-wrapped ${total} data keys...`);
      if (n < BATCH) break;
    }
  }
  if (total > 0) process.stdout.write('\n');
  return total;
}

async function left(pool: pg.Pool, kek: Buffer): Promise<number> {
  let n = 0;
  for (const w of WRAPPED) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${w.table} WHERE ${w.column} IS NOT NULL AND substring(${w.column} from 2 for 8) <> $1`, [kek]);
    n += Number(rows[0]!.n);
  }
  return n;
}

function writeKeyring(file: string, keys: string[]): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

async function rotate(pool: pg.Pool): Promise<void> {
  const file = process.env.DATA_KEY ? null : process.env.DATA_KEY_FILE;
  if (file) {
    const old = parseKeyringFile(readFileSync(file, 'utf8'), file);
    const fresh = randomBytes(32).toString('hex');
    const oldKeys = (JSON.parse(readFileSync(file, 'utf8')) as { keys: string[] }).keys;
    writeKeyring(file, [fresh, ...oldKeys]);
    const ring = loadKeyring();
    say(`new key-encryption key ${ring.current.id.toString('hex')} added to ${file}; the old ones (${old.all.map((k) => k.id.toString('hex')).join(', ')}) stay until every data key is re-wrapped`);
    // every running process reads the file again within KEYRING_RELOAD_MS of using a key: wait
    // until all of them wrap new data keys under the new one
    const wait = Number(process.env.KEYS_ROTATE_WAIT_MS ?? KEYRING_RELOAD_MS * 3);
    say(`waiting ${wait} ms for every process to read the new keyring...`);
    await sleep(wait);
    const n = await rewrapAll(pool);
    const stillOld = await left(pool, ring.current.id);
    if (stillOld > 0) throw new Error(`${stillOld} data keys are still under an old key (written meanwhile): run rotate's re-wrap again with \`npm run keys -- rewrap\``);
    writeKeyring(file, [fresh]);
    loadKeyring();
    say(`re-wrapped ${n} data keys under ${ring.current.id.toString('hex')}; the old keys are gone from ${file}. Backups taken before now open only with the old keys: keep them, or destroy them to make those backups unreadable.`);
    return;
  }
  const ring = loadKeyring();
  const n = await rewrapAll(pool);
  say(`re-wrapped ${n} data keys under DATA_KEY (${ring.current.id.toString('hex')}); ${(await left(pool, ring.current.id)) === 0 ? 'DATA_KEY_PREVIOUS can now be removed from every process' : 'some are still under an old key: run it again'}`);
}

async function main(): Promise<void> {
  const command = process.argv[2];
  const commands: Record<string, (pool: pg.Pool) => Promise<void>> = {
    status,
    seal: sealLegacy,
    rotate,
    reindex,
    rewrap: async (pool) => say(`re-wrapped ${await rewrapAll(pool)} data keys under the current key`),
  };
  const run = command ? commands[command] : undefined;
  if (!run) {
    console.error('usage: npm run keys -- status | seal | rotate | rewrap | reindex');
    process.exit(2);
  }
  loadKeyring();
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus', max: 2 });
  try {
    await run(pool);
  } finally {
    await pool.end();
  }
}

main().catch((err) => {
  console.error(`keys: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

// `npm run keys` against the real test database, as an operator runs it (server/bin/keys.ts in a
// process of its own): a rotation while people keep signing leaves every data key under the new
// key and every value readable, and the old key gone; rows an older version stored in clear are
// sealed; an erasure destroys the data key, and a copy taken before it (a backup) stops opening
// once the key it was wrapped under has been rotated out.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAction, createHarness, confirmSignatures, signBody, uniqueEmail, type Harness } from '../testing/harness.ts';
import { indexOfEmail, openedSignatures, supporterByEmail } from '../testing/sealed.ts';
import { emailDomainIndex, emailIndex, forgetKeyring, kekOf, loadKeyring, open, SealedDataError, unwrapDataKey } from './personal-data.ts';
import { canonicalEmail } from '../supporter/email.ts';
import { eraseSupporter } from '../supporter/supporter.repository.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
let h: Harness;
let file: string;
const saved = { DATA_KEY: process.env.DATA_KEY, DATA_KEY_FILE: process.env.DATA_KEY_FILE };

/** Runs `keys.ts <command>` as its own process on the test database, with the keyring file; answers its output. */
function keys(command: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/bin/keys.ts', command], {
      cwd: ROOT,
      env: { ...process.env, DATA_KEY: '', DATA_KEY_FILE: file, ...env },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function keyringKeys(): string[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { keys: string[] }).keys;
}

beforeAll(async () => {
  // this file's processes read their key from a keyring file, as `npm start` does
  file = join(mkdtempSync(join(tmpdir(), 'chorus-keys-')), 'data-keys.json');
  // its current key new, and the suite's key after it: this worker's earlier files wrote under that
  writeFileSync(file, JSON.stringify({ keys: [randomBytes(32).toString('hex'), ...(saved.DATA_KEY ? [saved.DATA_KEY] : [])] }), { mode: 0o600 });
  delete process.env.DATA_KEY;
  process.env.DATA_KEY_FILE = file;
  forgetKeyring();
  h = await createHarness();
});

afterAll(async () => {
  // every data key of this world back under the suite's DATA_KEY: later files of this worker read
  // what earlier ones wrote
  if (file && saved.DATA_KEY) {
    const back = await keys('rewrap', { DATA_KEY: saved.DATA_KEY, DATA_KEY_PREVIOUS: keyringKeys().join(','), DATA_KEY_FILE: '' });
    expect(back.code, back.out).toBe(0);
  }
  await h?.close();
  process.env.DATA_KEY = saved.DATA_KEY;
  if (saved.DATA_KEY_FILE === undefined) delete process.env.DATA_KEY_FILE;
  else process.env.DATA_KEY_FILE = saved.DATA_KEY_FILE;
  forgetKeyring();
});

async function sign(slug: string, email: string, extra: Record<string, unknown> = {}) {
  const res = await h.app.inject({ method: 'POST', url: `/api/actions/${slug}/signatures`, payload: signBody({ email, ...extra }) });
  expect(res.statusCode).toBe(202);
}

describe('npm run keys -- rotate', () => {
  it('re-wraps every data key under a new key while people keep signing, then drops the old key', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const before = Array.from({ length: 5 }, (_, i) => uniqueEmail(`rot-before-${i}`));
    for (const e of before) await sign(fx.action.slug, e, { firstName: 'Rotated', lastName: 'Before' });
    const oldKey = keyringKeys()[0]!;
    const oldId = kekOf(Buffer.from(oldKey, 'hex')).id;

    // sign-ups go on while the rotation runs: each is written under whichever key this process holds
    const during: string[] = [];
    let signing = true;
    const signer = (async () => {
      for (let i = 0; signing; i++) {
        const e = uniqueEmail(`rot-during-${i}`);
        await sign(fx.action.slug, e, { firstName: 'Rotated', lastName: `During${i}` });
        during.push(e);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const rotated = await keys('rotate');
    signing = false;
    await signer;
    expect(rotated.out).toContain('re-wrapped');
    expect(rotated.code).toBe(0);
    expect(during.length).toBeGreaterThan(3);

    // the file holds one key, a new one; no data key is under the old one
    const left = keyringKeys();
    expect(left).toHaveLength(1);
    expect(left[0]).not.toBe(oldKey);
    const newId = kekOf(Buffer.from(left[0]!, 'hex')).id;
    const { rows } = await h.db.pool.query<{ kek: Buffer; n: number }>(`SELECT substring(data_key from 2 for 8) AS kek, count(*)::int AS n FROM supporters WHERE data_key IS NOT NULL GROUP BY 1`);
    expect(rows.map((r) => r.kek.toString('hex'))).toEqual([newId.toString('hex')]);
    expect(rows.some((r) => r.kek.equals(oldId))).toBe(false);

    // with the new key alone, everyone's address, name and receipt open, those who signed during the rotation too
    forgetKeyring();
    for (const e of [...before, ...during]) {
      const s = await supporterByEmail(h.db.pool, e);
      expect(s?.email).toBe(e);
      const [sig] = await openedSignatures(h.db.pool, 's.supporter_id = $1', [s!.id]);
      expect(sig!.pending_first_name).toBe('Rotated');
      expect(sig!.receipt).toMatch(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/);
    }
    // and signing goes on
    await sign(fx.action.slug, uniqueEmail('rot-after'));

    const status = await keys('status');
    expect(status.code).toBe(0);
    expect(status.out).toContain(`current key-encryption key: ${newId.toString('hex')}`);
    expect(status.out).not.toContain(oldId.toString('hex'));
  }, 120_000);
});

describe('erasure destroys the data key', () => {
  it('leaves nothing to open in the row, and a copy taken before stops opening once its key is rotated out', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('shredded');
    await sign(fx.action.slug, email, { firstName: 'Shredded', lastName: 'Person' });
    await confirmSignatures(h.db.pool, 'p.email_index = $1', [indexOfEmail(email)]);
    // what a backup taken now holds of her
    const { rows } = await h.db.pool.query<{ id: string; data_key: Buffer; email: Buffer }>(`SELECT id, data_key, email FROM supporters WHERE email_index = $1`, [indexOfEmail(email)]);
    const backup = rows[0]!;
    expect(backup.email.includes(Buffer.from(email))).toBe(false);

    expect(await eraseSupporter(h.db.pool, backup.id, new Date())).toBe(true);
    const { rows: after } = await h.db.pool.query(`SELECT data_key, email, name, email_index FROM supporters WHERE id = $1`, [backup.id]);
    expect(after[0]).toMatchObject({ data_key: null, email: null, name: null });
    expect(after[0].email_index).not.toBe(indexOfEmail(email));
    const { rows: sigs } = await h.db.pool.query(`SELECT pending_name, letter, receipt_sealed FROM signatures WHERE supporter_id = $1`, [backup.id]);
    for (const s of sigs) expect(s).toEqual({ pending_name: null, letter: null, receipt_sealed: null });

    // the backup's copy still opens while its key-encryption key is kept (this is why operators
    // rotate on the backup schedule: docs/threat-model.md)
    forgetKeyring();
    const key = unwrapDataKey('supporter', backup.id, backup.data_key);
    expect(open(key, backup.id, 'email', backup.email)).toBe(email);

    // after a rotation, the key it was wrapped under is gone: the copy no longer opens
    const rotated = await keys('rotate');
    expect(rotated.code).toBe(0);
    forgetKeyring();
    loadKeyring();
    expect(() => unwrapDataKey('supporter', backup.id, backup.data_key)).toThrow(SealedDataError);
  }, 120_000);
});

describe('npm run keys -- seal', () => {
  it('seals what an older version stored in clear, and the person is still found by their address', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('legacy');
    const { rows } = await h.db.pool.query<{ id: string }>(
      `INSERT INTO supporters (canonical_email_clear, email_clear, first_name_clear, last_name_clear, country, locale)
       VALUES ($1, $2, 'Legacy', 'Signer', 'FR', 'fr') RETURNING id`,
      [email.toLowerCase(), email],
    );
    const id = rows[0]!.id;
    await h.db.pool.query(
      `INSERT INTO signatures (action_id, supporter_id, status, country, locale, confirmed_at, letter_subject_clear, letter_body_clear)
       VALUES ($1, $2, 'CONFIRMED', 'FR', 'fr', now(), 'Old subject', 'An old letter in clear')`,
      [fx.action.id, id],
    );
    const sealed = await keys('seal');
    expect(sealed.code).toBe(0);
    expect(sealed.out).toMatch(/sealed \d+ supporters/);

    const { rows: raw } = await h.db.pool.query(`SELECT * FROM supporters WHERE id = $1`, [id]);
    expect(raw[0]).toMatchObject({ canonical_email_clear: null, email_clear: null, first_name_clear: null, last_name_clear: null });
    expect(JSON.stringify(raw[0])).not.toContain('Legacy');
    forgetKeyring();
    const s = await supporterByEmail(h.db.pool, email);
    expect(s).toMatchObject({ id, email, first_name: 'Legacy', last_name: 'Signer' });
    const [sig] = await openedSignatures(h.db.pool, 's.supporter_id = $1', [id]);
    expect(sig).toMatchObject({ letter_subject: 'Old subject', letter_body: 'An old letter in clear', letter_subject_clear: null, letter_body_clear: null });

    // signing again with the address (in other capitals) is the same person, not a new one
    await sign(fx.action.slug, email.toUpperCase());
    const { rows: same } = await h.db.pool.query(`SELECT count(*)::int AS n FROM supporters WHERE email_index = $1`, [indexOfEmail(email)]);
    expect(same[0].n).toBe(1);
    const again = await keys('seal');
    expect(again.out).toContain('nothing stored in clear');
  }, 60_000);
});

describe('npm run keys -- reindex', () => {
  it('computes every blind index again under a new SECRET_KEY, from the sealed addresses and names', async () => {
    const fx = await createAction(h.db);
    await h.cache.refresh();
    const email = uniqueEmail('Re.Indexed');
    await sign(fx.action.slug, email, { firstName: 'Re', lastName: 'Indexed' });
    const { rows } = await h.db.pool.query<{ id: string; email_index: string }>(`SELECT id, email_index FROM supporters WHERE email_index = $1`, [indexOfEmail(email)]);
    const id = rows[0]!.id;
    const { rows: before } = await h.db.pool.query<{ signup_version: string }>(`SELECT signup_version FROM signatures WHERE supporter_id = $1`, [id]);
    const newSecret = randomBytes(32).toString('hex');
    const done = await keys('reindex', { SECRET_KEY: newSecret });
    expect(done.out).toMatch(/re-indexed \d+ supporters/);
    expect(done.code).toBe(0);
    const { rows: after } = await h.db.pool.query<{ email_index: string; email_domain_index: string }>(`SELECT email_index, email_domain_index FROM supporters WHERE id = $1`, [id]);
    expect(after[0]!.email_index).toBe(emailIndex(canonicalEmail(email), newSecret));
    expect(after[0]!.email_domain_index).toBe(emailDomainIndex(canonicalEmail(email), newSecret));
    // the waiting sign-up's fingerprint is made again too
    const { rows: sigs } = await h.db.pool.query<{ signup_version: string }>(`SELECT signup_version FROM signatures WHERE supporter_id = $1`, [id]);
    expect(sigs[0]!.signup_version).not.toBe(before[0]!.signup_version);
    expect(sigs[0]!.signup_version).toHaveLength(22);
    // back under this run's SECRET_KEY, for the tests after this one
    expect((await keys('reindex')).code).toBe(0);
    expect((await supporterByEmail(h.db.pool, email))?.id).toBe(id);
  }, 60_000);
});


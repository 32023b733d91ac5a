// Durable writes of new signatures, batched: requests arriving within a few milliseconds
// share one statement (its own transaction), and each caller is answered after it commits.
import type pg from 'pg';
import { CONSENT_WORDING_VERSION } from '../shared/consent-wording.ts';
import { randomUUID } from 'node:crypto';
import { isTransientConflict } from '../db/conflict.ts';
import { runHot, signaturesConfirm, signaturesWrite, supportersKnown, type RowOf } from '../db/hot-statements.ts';
import { emailDomainIndex, emailIndex, keyedFingerprint, newDataKey, seal, sealLetter, sealName, unwrapDataKey } from '../privacy/personal-data.ts';
import { newReceiptCode, receiptLeaf } from './receipt.ts';

export interface NewSignature {
  actionId: string;
  email: string;
  canonicalEmail: string;
  firstName: string;
  lastName: string;
  country: string;
  locale: string;
  namedDisclosure: boolean;
  namedToOwnCountry: boolean;
  publicWall: boolean;
  contact: boolean;
  letterSubject: string | null;
  letterBody: string | null;
  ipHash: string | null;
  /** the same keyed hash of the address's /24 or /64 network (shared/tokens.ts hashNetwork) */
  netHash: string | null;
  source: string | null;
  /** honeypot filled or over the per-address limit: stored, but invalidated at once so it never counts */
  suspicious: boolean;
  /** why (honeypot, rate_limit_ip; rate_limit_email on rows from before that limit moved to the emails); defaults to honeypot */
  invalidReason?: string | null;
}

export interface WrittenSignature {
  signatureId: string;
  requestedAt: Date;
  created: boolean;
}

/** The signing form's consent wording (shared/consent-wording.ts). */
export { CONSENT_WORDING_VERSION } from '../shared/consent-wording.ts';

/**
 * The fingerprint of what a sign-up says for the person, in the order of signupVersion
 * (signature.service.ts), which the confirmation links carry: name, country, each choice, letter.
 */
export function detailsVersion(parts: readonly (string | boolean | null)[]): string {
  // keyed: an unkeyed hash of a name, a country and a few choices could be found by trying names
  return keyedFingerprint('signup', JSON.stringify(parts));
}

/** What of a sign-up speaks for the person: two sign-ups alike in these are one (a repeat). */
function detailsOf(it: NewSignature): string {
  return detailsVersion([it.firstName, it.lastName, it.country, it.namedDisclosure, it.namedToOwnCountry, it.publicWall, it.contact, it.letterSubject, it.letterBody]);
}

/**
 * Writes one batch in a single statement (its own transaction: no BEGIN or COMMIT round trips),
 * after one read of the batch's known supporters and their data keys (supportersKnown), under
 * which each sign-up is sealed. Results are in the order of `items`.
 * - supporters: one row per address (by its blind index), inserted in a fixed order so that concurrent
 *   batches lock rows in the same order and cannot deadlock. A sign-up never writes the
 *   supporter's name or country: they change only when the owner confirms (confirm()).
 * - signatures: each clean sign-up is a pending row of its own, holding what it gave (name,
 *   country, consents, letter) until its owner confirms or discards it. Sign-ups of one person
 *   for one action wait side by side: a newer one, whoever made it, never takes the place of an
 *   earlier one. What the statement meets among the person's signatures of the action is read
 *   afresh after the supporter row is locked (chorus_signup_context), so sign-ups and
 *   confirmations of the same person committed a moment before are seen:
 *   - a new sign-up asks for its own confirmation email. The mail worker lets one email per
 *     address and action go at a time, and the page behind it lists every waiting sign-up of
 *     the address for the action, each with its own link; once it has gone, the sign-ups it
 *     listed owe no email of their own (confirmation.service.ts);
 *   - a repeat of a waiting sign-up (the same details) is the same row: its email is owed again
 *     once the last one went; one still owed keeps its place in the queue;
 *   - a repeat of a confirmed signature keeps it and asks for the "already signed" note (unless
 *     one is owed already); one confirmed and later set aside by staff stays set aside, and
 *     nothing new is written.
 *   A flagged sign-up (honeypot, limits) is stored set aside only when the person has no
 *   signature of the action yet, and asks for no email.
 * - consents are not written here: they are recorded when the owner confirms.
 */
export async function writeSignatures(pool: pg.Pool | pg.PoolClient, items: NewSignature[]): Promise<WrittenSignature[]> {
  // Within the batch as across batches: copies alike in their details are one sign-up, and a
  // flagged one counts only when nothing clean came with it (it is answered with the last
  // clean sign-up of the person for the action).
  const person = (it: NewSignature) => `${it.actionId}|${it.canonicalEmail}`;
  const version = new Map(items.map((it) => [it, detailsOf(it)]));
  const lastClean = new Map<string, NewSignature>();
  for (const it of items) if (!it.suspicious) lastClean.set(person(it), it);
  // each item's sign-up: a clean one by its details, a flagged one the person's last clean one
  // of the batch (or, without one, the last flagged)
  const keyOf = new Map<NewSignature, string>();
  const chosen = new Map<string, NewSignature>();
  for (const it of items) {
    const clean = it.suspicious ? lastClean.get(person(it)) : it;
    const key = clean ? `${person(it)}|${version.get(clean)}` : `${person(it)}|flagged`;
    keyOf.set(it, key);
    if (!it.suspicious || !clean) chosen.set(key, it);
  }
  const written = new Map<NewSignature, RowOf<(typeof signaturesWrite)['columns']>>();
  let left = [...chosen.values()];
  // a row whose address got a supporter from a concurrent batch meanwhile is written again,
  // sealed under that supporter's key (one more try is almost always enough)
  for (let attempt = 0; left.length > 0; attempt++) {
    if (attempt === 5) throw new Error('a signature of the batch was not written');
    const res = await writeOnce(pool, left, version);
    left = left.filter((r, i) => {
      const row = res.get(i + 1);
      if (row) written.set(r, row);
      return !row;
    });
  }
  return items.map((it) => {
    const rep = chosen.get(keyOf.get(it)!)!;
    const row = written.get(rep)!;
    // another copy inside the same batch is a repeat, like one arriving earlier or later
    return { signatureId: row.id, requestedAt: row.requested_at, created: row.created && rep === it };
  });
}

/**
 * One statement for `rows` (one per sign-up): each person's supporter as it is now (known, with
 * its data key, or new, with one made here), the sign-ups sealed under it. Answers the written
 * rows by their place in `rows` (from 1); a row left out is to be written again.
 */
async function writeOnce(pool: pg.Pool | pg.PoolClient, rows: NewSignature[], version: Map<NewSignature, string>) {
  const indexOf = new Map<string, string>();
  for (const r of rows) if (!indexOf.has(r.canonicalEmail)) indexOf.set(r.canonicalEmail, emailIndex(r.canonicalEmail));
  const known = new Map((await runHot(pool, supportersKnown, [[...new Set(indexOf.values())]])).map((k) => [k.email_index!, k]));
  // each person's supporter: the known one, or a new one (an id, a data key, the address sealed);
  // either way the row the statement writes if the person has none by then
  const people = new Map<string, { id: string; key: Buffer; wrapped: Buffer; email: Buffer; domain: string }>();
  for (const r of rows) {
    const index = indexOf.get(r.canonicalEmail)!;
    if (people.has(index)) continue;
    const k = known.get(index);
    const id: string = k ? k.id : randomUUID();
    const { key, wrapped } = k ? { key: unwrapDataKey('supporter', k.id, k.data_key!), wrapped: k.data_key! } : newDataKey('supporter', id);
    people.set(index, { id, key, wrapped, email: seal(key, id, 'email', r.email), domain: emailDomainIndex(r.canonicalEmail) });
  }
  // each sign-up's name, letter and receipt, sealed under its supporter's data key
  const sealed = rows.map((r) => {
    const index = indexOf.get(r.canonicalEmail)!;
    const p = people.get(index)!;
    const receipt = newReceiptCode();
    return {
      index,
      p,
      name: sealName(p.key, p.id, r.firstName, r.lastName),
      letter: sealLetter(p.key, p.id, r.letterSubject, r.letterBody),
      receiptLeaf: receiptLeaf(receipt),
      receipt: seal(p.key, p.id, 'receipt', receipt),
    };
  });
  const res = await runHot(pool, signaturesWrite, [
    rows.map((r) => r.actionId),
    sealed.map((x) => x.p.id),
    sealed.map((x) => x.index),
    sealed.map((x) => x.p.wrapped),
    sealed.map((x) => x.p.email),
    sealed.map((x) => x.p.domain),
    sealed.map((x) => x.name),
    rows.map((r) => r.country),
    rows.map((r) => r.locale),
    rows.map((r) => r.namedDisclosure),
    rows.map((r) => r.namedToOwnCountry),
    rows.map((r) => r.publicWall),
    rows.map((r) => r.contact),
    sealed.map((x) => x.letter),
    rows.map((r) => r.ipHash),
    rows.map((r) => r.netHash),
    rows.map((r) => r.source),
    rows.map((r) => r.suspicious),
    rows.map((r) => (r.suspicious ? (r.invalidReason ?? 'honeypot') : null)),
    rows.map((r) => version.get(r)!),
    sealed.map((x) => x.receiptLeaf),
    sealed.map((x) => x.receipt),
  ]);
  return new Map(res.map((r) => [Number(r.ord), r]));
}

/** Why a pending sign-up was set aside when its owner confirmed another of the same action. */
export const SUPERSEDED = 'superseded';

/**
 * What confirming writes, for pending signatures (others are left alone): the signature is
 * CONFIRMED, what its sign-up gave becomes the person's (the supporter's name and country),
 * and a consent record is written for each purpose, given or not, with the wording. The
 * person's other pending sign-ups of the action are set aside (SUPERSEDED), and what they said
 * in the person's name is wiped: one signature per person counts. A pending sign-up of a person
 * who already has a confirmed signature of the action is set aside in the same way, and not
 * returned. One statement; run it inside the transaction that decided to confirm, after locking
 * the supporter (signature.service.ts). Tests that set up confirmed signatures use it too, so
 * they get what a real confirmation gives.
 */
export async function recordConfirmations(
  db: pg.Pool | pg.PoolClient,
  ids: string[],
  at: Date,
): Promise<{ id: string; action_id: string; country: string; created_at: Date }[]> {
  const rows = await runHot(db, signaturesConfirm, [ids, at, CONSENT_WORDING_VERSION, SUPERSEDED]);
  return rows;
}

/**
 * Gathers concurrent writes and commits them together, as a database's group commit does:
 * while fewer than `maxInFlight` batches are being committed, what arrived in the current turn
 * of the event loop is written at once (or after `maxWaitMs`, when set); while they are busy,
 * new signatures gather into the next batch, which goes as soon as one finishes. So a lone
 * signer waits for no timer, and a spike makes batches as large as the database's pace needs
 * (up to `maxBatch`). If a batch fails (say, one row breaks a constraint), each item is retried
 * alone so one bad row cannot fail the others.
 */
export class SignatureWriter {
  private queue: { item: NewSignature; at: number; resolve: (r: WrittenSignature) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private inFlight = 0;
  private batchesInFlight = 0;
  /** statements written so far (each a batch): for tests and the bench's notes */
  batchesWritten = 0;
  /** when the oldest item of each batch being committed arrived */
  private inFlightSince = new Set<{ at: number }>();
  private readonly opts: WriterOptions;

  constructor(
    private readonly pool: pg.Pool,
    opts: Partial<WriterOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WRITER, ...opts };
  }

  /** How many signatures are waiting or being written: the server sheds load above maxQueued. */
  get backlog(): number {
    return this.queue.length + this.inFlight;
  }

  get full(): boolean {
    return this.backlog >= this.opts.maxQueued;
  }

  /**
   * How long the oldest signature not yet answered has been waiting, in ms (0 when none).
   * A new signature would wait at least this long: the load shedder's signal that
   * PostgreSQL is not keeping up.
   */
  oldestWaitMs(now = performance.now()): number {
    let oldest = this.queue[0]?.at ?? Infinity;
    for (const b of this.inFlightSince) oldest = Math.min(oldest, b.at);
    return oldest === Infinity ? 0 : now - oldest;
  }

  write(item: NewSignature): Promise<WrittenSignature> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, at: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    // every committing slot is busy: the first batch to finish takes what has gathered
    if (this.batchesInFlight >= this.opts.maxInFlight) return;
    if (this.queue.length >= this.opts.maxBatch) return this.flush();
    if (this.timer || this.immediate) return;
    if (this.opts.maxWaitMs > 0) this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    else this.immediate = setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    while (this.queue.length > 0 && this.batchesInFlight < this.opts.maxInFlight) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      const since = { at: batch[0]!.at };
      this.inFlight += batch.length;
      this.batchesInFlight++;
      this.inFlightSince.add(since);
      // the batch stops counting as waiting before its callers are answered
      void this.commit(batch, () => this.inFlightSince.delete(since)).finally(() => {
        this.inFlight -= batch.length;
        this.batchesInFlight--;
        this.inFlightSince.delete(since);
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async commit(batch: typeof this.queue, settled: () => void = () => {}, attempt = 0): Promise<void> {
    try {
      const results = await writeSignatures(this.pool, batch.map((b) => b.item));
      this.batchesWritten++;
      settled();
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (err) {
      // the statement lost a race (a deadlock or serialization failure) and was rolled back
      // whole: the same statement again is safe. Rows are locked in a fixed order (supporters,
      // then signatures, as confirming does), so this should not happen; if it still does after
      // a few tries, the caller gets a 503 with Retry-After (http/errors.ts), never a 500
      if (isTransientConflict(err) && attempt < 3) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
        return this.commit(batch, settled, attempt + 1);
      }
      if (batch.length === 1) {
        settled();
        batch[0]!.reject(err);
        return;
      }
      await Promise.all(batch.map((b) => this.commit([b])));
    }
  }
}

export interface WriterOptions {
  /** most signatures in one statement */
  maxBatch: number;
  /** 0: write what arrived in the current turn of the event loop; more: wait this long for company */
  maxWaitMs: number;
  /** batches being committed at once; further signatures gather into the next */
  maxInFlight: number;
  /** signatures waiting or being written above which `full` is true */
  maxQueued: number;
}

export const DEFAULT_WRITER: WriterOptions = { maxBatch: 256, maxWaitMs: 0, maxInFlight: 2, maxQueued: 20_000 };

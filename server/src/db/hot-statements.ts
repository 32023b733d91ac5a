// The hot statements: the few that run raw on a pg client, as named prepared statements
// (PostgreSQL plans each once per connection instead of once per call), because they run once
// per signature or per batch of signatures on the signing, confirming, mailing and counting
// paths, and because they say in one statement what a query builder would need several for
// (writable CTEs, unnest of parameter arrays, LATERAL calls of SQL functions). Every other query
// is written with Kysely (db.ts) and checked against the schema by the compiler.
//
// These are checked against the real database instead: each statement declares its result
// columns with their PostgreSQL types, the TypeScript row type is derived from that declaration,
// and hot-statements.test.ts prepares every statement listed here on a migrated database and
// compares the columns PostgreSQL describes with the declaration, so a renamed column or a
// changed type fails there, not in production.
import type pg from 'pg';
import { SignatureStatus as S } from '../generated/kysely/enums.ts';
import { arrayParamTypes, binaryArray, type ElementType } from './binary-array.ts';

/** PostgreSQL type names a hot statement's column may have; `?` marks one that may be NULL. */
type PgType = 'uuid' | 'text' | 'varchar' | 'bpchar' | 'timestamptz' | 'bool' | 'int4' | 'int8' | 'bytea' | 'SignatureStatus';
type Declared = PgType | `${PgType}?`;
type TsOf<T extends PgType> = T extends 'timestamptz'
  ? Date
  : T extends 'bool'
    ? boolean
    : T extends 'int4'
      ? number
      : T extends 'bytea'
        ? Buffer
        : T extends 'SignatureStatus'
          ? S
          : string;
type Column<D extends Declared> = D extends `${infer B extends PgType}?` ? TsOf<B> | null : D extends PgType ? TsOf<D> : never;
export type RowOf<Cols extends Record<string, Declared>> = { [K in keyof Cols]: Column<Cols[K]> };

export interface HotStatement<Cols extends Record<string, Declared> = Record<string, Declared>> {
  /** the prepared statement's name: unique across the list */
  name: string;
  text: string;
  /** the result columns, in order, with their PostgreSQL types */
  columns: Cols;
  /** how many parameters it takes ($1..$n) */
  params: number;
}

function hot<const Cols extends Record<string, Declared>>(s: HotStatement<Cols>): HotStatement<Cols> {
  return s;
}

/** Each statement's array parameters, by their casts in its text (binary-array.ts). */
const arrayTypes = new WeakMap<HotStatement, (ElementType | null)[]>();

/**
 * Runs a hot statement on the pool or on a transaction's client; answers its rows. Array
 * parameters go in PostgreSQL's binary array format (binary-array.ts), not as text literals.
 */
export async function runHot<Cols extends Record<string, Declared>>(on: pg.Pool | pg.PoolClient, st: HotStatement<Cols>, values: unknown[]): Promise<RowOf<Cols>[]> {
  if (values.length !== st.params) throw new Error(`${st.name} takes ${st.params} parameters, given ${values.length}`);
  let types = arrayTypes.get(st);
  if (!types) arrayTypes.set(st, (types = arrayParamTypes(st.text, st.params)));
  const sent = values.map((v, i) => (types[i] && Array.isArray(v) ? binaryArray(types[i], v) : v));
  const { rows } = await on.query<RowOf<Cols>>({ name: st.name, text: st.text, values: sent });
  return rows;
}

/*
 * Person first: a person's sign-ups of an action are looked up by person first (the index on action_id,
 * supporter_id: a few rows), and filtered by status afterwards. Given both, PostgreSQL may pick
 * the index of the action's signatures by status instead, and read every waiting sign-up of the
 * action for each one: on a new action, whose statistics still show none waiting, it did, and
 * each sign-up cost about 11 ms (hot-statements.test.ts catches it).
 */

/**
 * The columns of `signatures s` and `supporters p` that make up a sign-up's details
 * (signature.service.ts signupDetails): the name and letter sealed under the supporter's data key.
 */
const SIGNUP_COLUMNS = `s.pending_name, s.country, s.named_disclosure, s.named_to_own_country,
            s.public_wall, s.pending_contact, s.letter, s.signup_version, s.receipt_sealed, p.data_key`;
const SIGNUP = {
  pending_name: 'bytea?',
  country: 'bpchar',
  named_disclosure: 'bool',
  named_to_own_country: 'bool',
  public_wall: 'bool',
  pending_contact: 'bool?',
  letter: 'bytea?',
  signup_version: 'varchar?',
  receipt_sealed: 'bytea?',
  data_key: 'bytea?',
} as const;

/**
 * Before a batch of sign-ups is written (signature.repository.ts writeSignatures): the supporters
 * the batch's addresses already have, by blind index, with their wrapped data keys (each sign-up
 * is sealed under its person's key). No lock: signaturesWrite checks that each person is still
 * the one read here. Parameter: the blind indexes.
 */
export const supportersKnown = hot({
  name: 'supporters-known',
  params: 1,
  columns: { id: 'uuid', email_index: 'varchar?', data_key: 'bytea?' },
  // by the unique index, whatever the statistics say (migration supporters_known)
  text: `SELECT id, email_index, data_key FROM chorus_supporters_known($1::varchar[])`,
});

/**
 * The signature writer's batch (signature.repository.ts writeSignatures), after supportersKnown:
 * supporters upserted (a new address's row made with the id, data key and sealed address the
 * writer prepared), what each sign-up meets read afresh under the supporter's lock, new sign-ups
 * inserted, repeats renewed, one answer per input row written. The name, letter and receipt
 * arrive sealed under the data key of the supporter `sid`; a row whose address turns out to
 * belong to another supporter (made by a concurrent batch since supportersKnown) is not written
 * and gets no answer: the writer seals it again and retries. Parameters: 22 arrays, one element
 * per sign-up.
 */
export const signaturesWrite = hot({
  name: 'signatures-write',
  params: 22,
  columns: { ord: 'int8', id: 'uuid', requested_at: 'timestamptz', created: 'bool' },
  text: `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::bytea[], $5::bytea[], $6::varchar[],
                            $7::bytea[], $8::char(2)[], $9::varchar[], $10::bool[], $11::bool[], $12::bool[], $13::bool[],
                            $14::bytea[], $15::varchar[], $16::varchar[], $17::varchar[], $18::bool[], $19::varchar[],
                            $20::varchar[], $21::bytea[], $22::bytea[])
              WITH ORDINALITY AS t(a, sid, ix, dk, em, dom, pn, c, l, n, own, w, ct, lt, ip, net, src, sus, why, v, rl, rs, ord)
     ),
     -- one row per person, in blind-index order so that concurrent batches lock rows in the same
     -- order: a new address's row as prepared, a known one locked (its data key is the one the
     -- sign-ups were sealed under)
     sup AS (
       INSERT INTO supporters (id, email_index, data_key, email, locale, email_domain_index)
       SELECT DISTINCT ON (ix) sid, ix, dk, em, l, dom FROM input ORDER BY ix, ord
       ON CONFLICT (email_index) DO UPDATE SET email_index = EXCLUDED.email_index
       RETURNING id, email_index
     ),
     -- what each sign-up meets among the person's signatures of the action, read afresh once
     -- the supporter row is locked (chorus_signup_context: migration signup_context). \`ours\`: the
     -- sign-up was sealed for the supporter the address now has; one that was not is left out
     -- below (as a flag, not a join condition: two conditions would make PostgreSQL expect a row
     -- or two here, and plan the joins below as loops over every row)
     met AS MATERIALIZED (
       SELECT i.*, sup.id = i.sid AS ours, ctx.signed_id, ctx.signed_status, ctx.same_id, ctx.any_id, ctx.known_requested_at
       FROM input i JOIN sup ON sup.email_index = i.ix
       CROSS JOIN LATERAL chorus_signup_context(i.a, i.sid, i.v) ctx
     ),
     added AS (
       INSERT INTO signatures (action_id, supporter_id, country, locale, named_disclosure, public_wall,
                               letter, ip_hash, source, named_to_own_country,
                               status, invalidated_at, invalid_reason, net_hash,
                               pending_name, pending_contact, signup_version, receipt_leaf, receipt_sealed)
       SELECT m.a, m.sid, m.c, m.l, m.n, m.w, m.lt, m.ip, m.src, m.own,
              CASE WHEN m.sus THEN '${S.INVALIDATED}'::"SignatureStatus" ELSE '${S.PENDING}'::"SignatureStatus" END,
              CASE WHEN m.sus THEN now() END,
              CASE WHEN m.sus THEN COALESCE(m.why, 'honeypot') END,
              -- a flagged sign-up never waits: it keeps no fingerprint of its details
              m.net, m.pn, m.ct, CASE WHEN m.sus THEN NULL ELSE m.v END, m.rl, m.rs
       FROM met m
       WHERE m.ours AND m.signed_id IS NULL AND m.same_id IS NULL AND NOT (m.sus AND m.any_id IS NOT NULL)
       ORDER BY m.ord
       -- the same sign-up in a statement committed after this one's context was read: answered
       -- with that row (its email is renewed below like any repeat's)
       ON CONFLICT (action_id, supporter_id, signup_version) WHERE status = '${S.PENDING}' AND signup_version IS NOT NULL
         DO UPDATE SET signup_version = EXCLUDED.signup_version
       RETURNING id, action_id, supporter_id, signup_version, status, (xmax = 0) AS created
     ),
     -- the email each clean sign-up asks for: a new sign-up's own; a repeat of a waiting sign-up
     -- its email again, and of a confirmed signature the "already signed" note, once the last one
     -- went. One still owed keeps its request, and so its place in the address's queue (a repeat
     -- never sends someone's waiting email to the back). An upsert: it sees the email of a
     -- sign-up committed by another statement a moment ago, as the insert above sees its row.
     emailed AS (
       INSERT INTO confirmation_emails (signature_id, supporter_id, action_id, requested_at)
       SELECT DISTINCT ON (x.id) x.id, x.supporter_id, x.action_id, now()
       FROM (SELECT ad.id, ad.supporter_id, ad.action_id FROM added ad WHERE ad.status = '${S.PENDING}'
             UNION ALL
             -- the person's confirmed signature (unless staff set it aside), else their waiting sign-up
             -- with the same details: both found by chorus_signup_context, so no join here that the
             -- statistics of the moment could plan as a read of every signature
             SELECT COALESCE(m.signed_id, m.same_id), m.sid, m.a FROM met m
             WHERE m.ours AND NOT m.sus
               AND (CASE WHEN m.signed_id IS NOT NULL THEN m.signed_status IN ('${S.CONFIRMED}', '${S.PENDING}') ELSE m.same_id IS NOT NULL END)) x
       ORDER BY x.id
       ON CONFLICT (signature_id) DO UPDATE SET requested_at =
         CASE WHEN confirmation_emails.sent_at >= confirmation_emails.requested_at THEN now() ELSE confirmation_emails.requested_at END
       RETURNING signature_id, requested_at
     )
     SELECT m.ord, COALESCE(ad.id, m.signed_id, m.same_id, m.any_id) AS id,
            -- the request as stored (a repeat whose email still waits leaves it as it was): the
            -- email job's id is made of it, so a repeat's job is the waiting one, never a second send
            COALESCE(e.requested_at, m.known_requested_at, now()) AS requested_at, COALESCE(ad.created, false) AS created
     FROM met m
     LEFT JOIN added ad ON ad.action_id = m.a AND ad.supporter_id = m.sid
                       -- (an equality a hash join can take: a flagged sign-up's row has no fingerprint)
                       AND COALESCE(ad.signup_version, '') = (CASE WHEN m.sus THEN '' ELSE m.v END)
     LEFT JOIN emailed e ON e.signature_id = COALESCE(ad.id, m.signed_id, m.same_id)
     WHERE m.ours`,
});

/**
 * Confirming (signature.repository.ts recordConfirmations): the signatures confirmed, the
 * person's other waiting sign-ups set aside, the supporter named, the choices recorded (one
 * consents row per signature).
 * Parameters: ids, at, consent wording version, the reason for setting aside.
 */
export const signaturesConfirm = hot({
  name: 'signatures-confirm',
  params: 4,
  columns: { id: 'uuid', action_id: 'uuid', country: 'bpchar', created_at: 'timestamptz' },
  text: `WITH asked AS (
       SELECT DISTINCT ON (s.action_id, s.supporter_id) s.id, s.action_id, s.supporter_id,
              s.pending_name AS pn, s.pending_contact AS ct,
              EXISTS (SELECT 1 FROM signatures o WHERE o.action_id = s.action_id AND o.supporter_id = s.supporter_id
                                                  AND o.confirmed_at IS NOT NULL) AS signed
       FROM signatures s WHERE s.id = ANY($1::uuid[]) AND s.status = '${S.PENDING}'
       ORDER BY s.action_id, s.supporter_id, s.created_at DESC, s.id
     ),
     before AS (SELECT * FROM asked WHERE NOT signed),
     -- the person's signatures of the action, found by person (a few rows); filtered by status
     -- only here, so the lookup can never be planned on the index of the action's signatures by
     -- status, which would read every waiting sign-up of the action (see 'Person first' in db/hot-statements.ts)
     theirs AS MATERIALIZED (
       SELECT o.id, o.status FROM asked a JOIN signatures o ON o.action_id = a.action_id AND o.supporter_id = a.supporter_id
     ),
     set_aside AS (
       UPDATE signatures s SET status = '${S.INVALIDATED}', invalidated_at = $2, invalid_reason = $4,
              pending_name = NULL, pending_contact = NULL, letter = NULL, signup_version = NULL,
              named_disclosure = false, named_to_own_country = false, public_wall = false
       FROM theirs t
       WHERE s.id = t.id AND t.status = '${S.PENDING}' AND s.status = '${S.PENDING}'
         AND s.id NOT IN (SELECT id FROM before)
     ),
     done AS (
       -- the fingerprint of the details goes with them: it is matched only while a sign-up waits,
       -- and a keyed hash of a name, a country and choices kept for good could be tried against names
       UPDATE signatures s SET status = '${S.CONFIRMED}', confirmed_at = $2,
              pending_name = NULL, pending_contact = NULL, signup_version = NULL
       FROM before b WHERE s.id = b.id AND s.status = '${S.PENDING}'
       RETURNING s.id, s.action_id, s.supporter_id, s.country, s.created_at, s.named_disclosure, s.named_to_own_country, s.public_wall, b.pn, b.ct
     ),
     person AS (
       -- a sign-up from before names waited for confirmation has none of its own: the name on file
       -- stays. Both are sealed under the supporter's data key, bound to the supporter and the field
       -- 'name': the sealed value moves as it is.
       UPDATE supporters p SET name = COALESCE(d.pn, p.name), country = d.country
       FROM done d WHERE p.id = d.supporter_id
     ),
     consented AS (
       INSERT INTO consents (signature_id, supporter_id, named_disclosure, named_to_own_country, public_wall, contact, wording_version, created_at)
       SELECT d.id, d.supporter_id, d.named_disclosure, d.named_disclosure AND d.named_to_own_country, d.public_wall, COALESCE(d.ct, false), $3, $2
       FROM done d
     )
     SELECT id, action_id, country, created_at FROM done`,
});

const TOKEN_COLUMNS = {
  id: 'uuid',
  action_id: 'uuid',
  supporter_id: 'uuid',
  status: 'SignatureStatus',
  invalid_reason: 'varchar?',
  erased: 'bool',
  slug: 'varchar',
  ...SIGNUP,
  title: 'varchar?',
  default_title: 'varchar?',
  default_locale: 'varchar',
} as const;
const tokenText = (lock: boolean) => `SELECT s.id, s.action_id, s.supporter_id, s.status, s.invalid_reason, p.erased_at IS NOT NULL AS erased, a.slug, ${SIGNUP_COLUMNS},
            (SELECT title FROM action_texts WHERE action_id = a.id AND locale = $2) AS title,
            (SELECT title FROM action_texts WHERE action_id = a.id AND locale = a.default_locale) AS default_title,
            a.default_locale
     FROM signatures s JOIN actions a ON a.id = s.action_id JOIN supporters p ON p.id = s.supporter_id
     WHERE s.id = $1${lock ? ' FOR UPDATE OF s' : ''}`;

/** The signature a confirmation link names, for its page (signature.service.ts). Parameters: id, locale. */
export const signatureForToken = hot({ name: 'signature-for-token', params: 2, columns: TOKEN_COLUMNS, text: tokenText(false) });

/** The same, row-locked, inside the transaction that confirms or discards it (after lockSupporterOfSignature). */
export const signatureForTokenLocked = hot({ name: 'signature-for-token-lock', params: 2, columns: TOKEN_COLUMNS, text: tokenText(true) });

/**
 * The supporter of a signature, locked first (the order every writer of a person's rows takes:
 * the supporter, then the signature). NO KEY UPDATE: the lock the supporter's update takes
 * anyway; it leaves new signatures of other actions (which only need the key) free to
 * reference the row. Parameter: the signature's id.
 */
export const lockSupporterOfSignature = hot({
  name: 'signature-for-token-lock-supporter',
  params: 1,
  columns: { locked: 'int4' },
  text: 'SELECT 1 AS locked FROM supporters WHERE id = (SELECT supporter_id FROM signatures WHERE id = $1) FOR NO KEY UPDATE',
});

/** What a confirmation email needs (confirmation.service.ts), once per email. Parameter: the signature's id. */
export const confirmationLoad = hot({
  name: 'confirmation-load',
  params: 1,
  columns: {
    id: 'uuid',
    status: 'SignatureStatus',
    locale: 'varchar',
    requested_at: 'timestamptz?',
    sent_at: 'timestamptz?',
    released_at: 'timestamptz?',
    supporter_id: 'uuid',
    email: 'bytea?',
    name: 'bytea?',
    slug: 'varchar',
    ...SIGNUP,
    others_waiting: 'int4',
    title: 'varchar',
  },
  text: `SELECT s.id, s.status, s.locale, e.requested_at, e.sent_at, e.released_at,
            p.id AS supporter_id, p.email, p.name, a.slug, ${SIGNUP_COLUMNS},
            -- by person, then by status in the count's filter (see 'Person first' in db/hot-statements.ts)
            (SELECT (count(*) FILTER (WHERE o.status = '${S.PENDING}'))::int FROM signatures o
             WHERE o.action_id = s.action_id AND o.supporter_id = s.supporter_id AND o.id <> s.id) AS others_waiting,
            COALESCE((SELECT title FROM action_texts WHERE action_id = a.id AND locale = s.locale),
                     (SELECT title FROM action_texts WHERE action_id = a.id AND locale = a.default_locale), a.slug) AS title
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id JOIN actions a ON a.id = s.action_id
     LEFT JOIN confirmation_emails e ON e.signature_id = s.id
     WHERE s.id = $1`,
});

/**
 * Lets go the owed emails of a signature's supporter, one per action, oldest request first, up to
 * the room left in the address's budget for the window, and counts them against it: the whole of
 * the budget step in one call (the function chorus_release_confirmations, in its migration), under
 * a lock of the supporter row held until the caller's transaction ends (confirmation.service.ts
 * releaseOwedConfirmations). Parameters: the signature, the window's start, the emails allowed
 * per window.
 */
export const confirmationRelease = hot({
  name: 'confirmation-budget-release',
  params: 3,
  columns: { id: 'uuid' },
  text: `SELECT r AS id FROM chorus_release_confirmations($1, $2, $3) r`,
});

/** The email answering request $2 of signature $1 went: nothing is owed until a newer request. */
const MARK_SENT = `UPDATE confirmation_emails SET sent_at = $2 WHERE signature_id = $1 AND (sent_at IS NULL OR sent_at < $2)`;

/** The email answering a request went (confirmation.service.ts). Parameters: id, the request answered. */
export const confirmationMarkSent = hot({
  name: 'confirmation-mark-sent',
  params: 2,
  columns: {},
  text: MARK_SENT,
});

/**
 * A confirmation email went (confirmation.service.ts): its request is answered and, when it was a
 * confirmation page (not the "already signed" note), the sign-ups the page lists owe no email of
 * their own. One statement: the two updates touch different rows. Parameters: the sent
 * signature, the request it answered, when it was sent, whether its page lists the others, how
 * many the page lists.
 */
export const confirmationMarkSentAndListed = hot({
  name: 'confirmation-mark-sent-and-listed',
  params: 5,
  columns: {},
  // exactly those the page lists (signature.service.ts waitingBeside: oldest first, up to
  // OTHERS_LISTED): one it cannot list keeps its own email owed
  text: `WITH sent AS (${MARK_SENT}),
     theirs AS MATERIALIZED (
       -- by person, then by status (see 'Person first' in db/hot-statements.ts)
       SELECT o.id, o.status, o.created_at FROM signatures s JOIN signatures o ON o.action_id = s.action_id AND o.supporter_id = s.supporter_id
       WHERE $4::boolean AND s.id = $1 AND o.id <> s.id
     ),
     listed AS (
       SELECT id FROM theirs WHERE status = '${S.PENDING}' ORDER BY created_at, id LIMIT $5
     )
     UPDATE confirmation_emails e SET sent_at = e.requested_at, reminder_sent_at = COALESCE(e.reminder_sent_at, $3)
     FROM listed l
     WHERE e.signature_id = l.id AND e.requested_at <= $3
       AND (e.sent_at IS NULL OR e.requested_at > e.sent_at)`,
});

/** The counter's fold of new confirmations into the public counts (counter.service.ts). Parameter: the most to fold. */
export const counterFold = hot({
  name: 'counter-fold',
  params: 1,
  columns: { folded: 'int4' },
  text: `WITH folded AS (
         UPDATE signatures SET counted_at = now()
         WHERE id IN (SELECT id FROM signatures WHERE status = '${S.CONFIRMED}' AND counted_at IS NULL LIMIT $1)
         RETURNING action_id, country
       ), per_action AS (
         INSERT INTO action_stats (action_id, confirmed_count, updated_at)
         SELECT action_id, count(*), now() FROM folded GROUP BY action_id
         ON CONFLICT (action_id) DO UPDATE
           SET confirmed_count = action_stats.confirmed_count + EXCLUDED.confirmed_count, updated_at = now()
       ), per_country AS (
         INSERT INTO action_country_stats (action_id, country, confirmed_count)
         SELECT action_id, country, count(*) FROM folded GROUP BY action_id, country
         ON CONFLICT (action_id, country) DO UPDATE
           SET confirmed_count = action_country_stats.confirmed_count + EXCLUDED.confirmed_count
       )
       SELECT count(*)::int AS folded FROM folded`,
});

/** Every hot statement: the test prepares each and checks its columns. */
export const HOT_STATEMENTS: readonly HotStatement[] = [
  supportersKnown,
  signaturesWrite,
  signaturesConfirm,
  signatureForToken,
  signatureForTokenLocked,
  lockSupporterOfSignature,
  confirmationLoad,
  confirmationRelease,
  confirmationMarkSent,
  confirmationMarkSentAndListed,
  counterFold,
];

import type pg from 'pg';
import type { ActionCache } from '../action/action.service.ts';
import { isSigningOpen } from '../action/action.service.ts';
import type { Queues } from '../queue/queue.ts';
import { personalLetter } from '../letter/letter-preview.service.ts';
import { conflict, gone, notFound, tooMany, unavailable } from '../shared/errors.ts';
import { hashIp, hashNetwork, signToken, verifyToken } from '../shared/tokens.ts';
import { canonicalEmail } from '../supporter/email.ts';
import { inTransaction, qb, SignatureStatus } from '../db/db.ts';
import { openLetter, openName, openOrNull, supporterKey } from '../privacy/personal-data.ts';
import {
  lockSupporterOfSignature,
  runHot,
  signatureForToken as signatureForTokenQuery,
  signatureForTokenLocked,
  type RowOf,
} from '../db/hot-statements.ts';
import { emitEvent } from '../webhook/webhook.service.ts';
import { confirmationLatency, signaturesAccepted, signaturesInvalidated, signaturesReceived, signaturesShed } from '../shared/metrics.ts';
import type { AbuseGuard } from '../abuse/abuse.service.ts';
import type { SignInput } from './signature.schema.ts';
import { detailsVersion, recordConfirmations, SUPERSEDED, type SignatureWriter } from './signature.repository.ts';

export interface SignatureDeps {
  pool: pg.Pool;
  cache: ActionCache;
  writer: SignatureWriter;
  queues: Pick<Queues, 'enqueueConfirmations'>;
  secret: string;
  clock: () => Date;
  confirmLinkTtlHours: number;
  log: { warn(obj: object, msg: string): void };
  /** rate limits per client address, email and API key; absent = none (some tests, scripts; every route passes one) */
  abuse?: AbuseGuard;
}

/**
 * Who is asking for a signature, as the abuse limits count it. `ip` is the client address: the
 * signer's own on our form; for an integrator, the signer's address it passed, else its own
 * server's (see docs/integrators.md). `apiKey` is the id of the integrator's key.
 */
export interface SigningClient {
  ip: string;
  apiKey?: string;
}

const CONFIRM = 'confirm-signature';

/** The signing counters, by path, bound once: counting a signature is one increment. */
const RECEIVED = { form: signaturesReceived.labels('form'), api: signaturesReceived.labels('api') };
const ACCEPTED = { form: signaturesAccepted.labels('form'), api: signaturesAccepted.labels('api') };

export async function sign(deps: SignatureDeps, slug: string, input: SignInput, ctx: SigningClient): Promise<void> {
  const via = ctx.apiKey ? 'api' : 'form';
  RECEIVED[via].inc();
  const action = await deps.cache.find(slug);
  if (!action) throw notFound('action_not_found', `No action is published at "${slug}"`);
  if (action.status !== 'PUBLISHED') throw conflict('action_closed', 'This action is closed and no longer takes signatures');
  if (action.signingPausedAll) throw conflict('signing_paused', 'Signing is paused on every action; please try again later');
  if (!isSigningOpen(action)) throw conflict('signing_paused', 'Signing is paused on this action; please try again later');
  if (deps.writer.full) {
    signaturesShed.inc({ reason: 'writer_full' });
    throw unavailable('overloaded', 'Too many signatures are arriving at once; please try again in a moment', 2);
  }
  if (ctx.apiKey && deps.abuse) {
    const budget = await deps.abuse.allowKeySignature(ctx.apiKey);
    if (!budget.ok) {
      signaturesShed.inc({ reason: 'api_key_limit' });
      throw tooMany('signing_rate_limited', `This key may record ${budget.limit} signatures per 10 minutes; try again in ${budget.retryAfter} s`, budget.retryAfter);
    }
  }

  const own = personalLetter(action, input.letterSubject, input.letterBody);
  const canonical = canonicalEmail(input.email);
  // Offenders (the honeypot, a flood from one client address) are not told: they get the same
  // answer, and their signature is stored invalidated with the reason (never counted, emailed or
  // delivered; staff see it). There is no per-email verdict: a sign-up with an address is never
  // dropped for how often the address was used; the emails it causes are what is limited, and
  // they wait their turn (confirmation.service.ts).
  const honeypot = Boolean(input.website && input.website.trim() !== '');
  const verdict = honeypot ? 'honeypot' : ((await deps.abuse?.checkSignature({ ip: ctx.ip })) ?? null);
  const written = await deps.writer.write({
    actionId: action.id,
    email: input.email,
    canonicalEmail: canonical,
    firstName: input.firstName,
    lastName: input.lastName,
    country: input.country,
    locale: input.locale ?? action.defaultLocale,
    namedDisclosure: input.consentNamed,
    namedToOwnCountry: input.consentNamed && input.consentNamedToOwnCountry,
    publicWall: input.consentWall,
    contact: input.consentContact,
    // stored only when the member changed the action's letter: a digest carries real voices
    letterSubject: own.body || own.subject ? (own.subject ?? null) : null,
    letterBody: own.body,
    ipHash: hashIp(deps.secret, ctx.ip),
    netHash: hashNetwork(deps.secret, ctx.ip),
    source: input.source || null,
    suspicious: verdict !== null,
    invalidReason: verdict,
  });
  // nothing is emailed for a flagged signature: a flood cannot turn us into a mail bomb
  if (verdict !== null) {
    signaturesInvalidated.inc({ reason: verdict });
    return;
  }
  ACCEPTED[via].inc();
  // The signature is durable; the email job is a nudge. If Redis is away the sweeper
  // finds the owed confirmation in the database and enqueues it later. Past the address's
  // email budget, the worker delays the job to the next window (it stays owed, and pending).
  deps.queues.enqueueConfirmations([written]).catch((err: unknown) => {
    deps.log.warn({ err: String(err) }, 'confirmation enqueue failed; the sweeper will retry');
  });
}

/**
 * What a sign-up asks its owner to confirm: everything of it that speaks for the person. The
 * confirmation and reminder emails and the confirmation page show exactly this, and the
 * emailed link is bound to it (signupVersion), so a link confirms only what its email showed.
 */
export interface SignupDetails {
  firstName: string;
  lastName: string;
  country: string;
  consents: { count: true; named: boolean; namedToOwnCountry: boolean; wall: boolean; contact: boolean };
  /** the member's own letter, when they changed the action's */
  letter: { subject: string | null; body: string | null } | null;
}

/** The columns of `signatures s` that make up SignupDetails (see signupDetails), for Kysely's select. */
export const SIGNUP_COLUMNS = [
  's.supporter_id',
  's.pending_name',
  's.country',
  's.named_disclosure',
  's.named_to_own_country',
  's.public_wall',
  's.pending_contact',
  's.letter',
  's.signup_version',
] as const;

export interface SignupRow {
  supporter_id: string;
  /** the name and the letter, sealed under the supporter's data key */
  pending_name: Buffer | null;
  country: string;
  named_disclosure: boolean;
  named_to_own_country: boolean;
  public_wall: boolean;
  pending_contact: boolean | null;
  letter: Buffer | null;
  signup_version: string | null;
}

/** A sign-up's details, opened with its supporter's data key (`dataKey`: wrapped, as stored). */
export function signupDetails(r: SignupRow, dataKey: Buffer | null): SignupDetails {
  const key = supporterKey(r.supporter_id, dataKey);
  const name = openName(key, r.supporter_id, r.pending_name);
  const letter = openLetter(key, r.supporter_id, r.letter);
  return {
    firstName: name.first ?? '',
    lastName: name.last ?? '',
    country: r.country,
    consents: {
      count: true,
      named: r.named_disclosure,
      namedToOwnCountry: r.named_disclosure && r.named_to_own_country,
      wall: r.public_wall,
      contact: r.pending_contact ?? false,
    },
    letter: letter.subject !== null || letter.body !== null ? { subject: letter.subject, body: letter.body } : null,
  };
}

/**
 * The version a sign-up's links carry: as stored with it, which is what its email's link was
 * made of (a sign-up's details never change while it waits).
 */
function storedVersion(r: SignupRow, dataKey: Buffer | null): string {
  return r.signup_version ?? signupVersion(signupDetails(r, dataKey));
}

/**
 * A short fingerprint of a sign-up's details: a new sign-up with other details has another. The
 * writer stores it with each sign-up (signatures.signup_version: alike sign-ups are one).
 */
export function signupVersion(d: SignupDetails): string {
  const c = d.consents;
  return detailsVersion([d.firstName, d.lastName, d.country, c.named, c.namedToOwnCountry, c.wall, c.contact, d.letter?.subject ?? null, d.letter?.body ?? null]);
}

/**
 * The link of a confirmation or reminder email. With `version` (always, when we send one) it
 * opens and confirms only the sign-up with those details: should the sign-up no longer hold
 * them, the page says so and confirms nothing.
 */
export function confirmationToken(
  deps: Pick<SignatureDeps, 'secret' | 'clock' | 'confirmLinkTtlHours'>,
  signatureId: string,
  version?: string,
): string {
  const expires = new Date(deps.clock().getTime() + deps.confirmLinkTtlHours * 3_600_000);
  return signToken(deps.secret, CONFIRM, version ? `${signatureId}:${version}` : signatureId, expires);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * - pending: waiting for its owner, who sees `signup` and may confirm or discard it; other
 *   sign-ups with the address for the action wait beside it, each with its own link;
 * - confirmed: it counts (confirming again is answered, not repeated), or its owner confirmed
 *   another of their sign-ups of the action, which counts in its place;
 * - replaced: the sign-up no longer holds what the link's email showed (links of sign-ups
 *   written before sign-ups waited side by side, when a newer one overwrote an older);
 * - discarded: its owner said "This was not me".
 */
export type ConfirmationStatus = 'pending' | 'confirmed' | 'replaced' | 'discarded';

/** The action a confirmation link is for: its title in the page's language, else in its default one (`locale`). */
export interface ConfirmationAction {
  slug: string;
  title: string;
  /** the language of the title */
  locale: string;
}

export interface ConfirmationView {
  status: ConfirmationStatus;
  action: ConfirmationAction;
  /** only while pending: exactly what confirming would confirm */
  signup?: SignupDetails;
  /** only while pending: the details' fingerprint, for the page's buttons to send back */
  version?: string;
  /**
   * while pending or discarded: the other sign-ups with this address for this action that wait,
   * oldest first (so that no later sign-up can push an earlier one off the list), up to
   * OTHERS_LISTED, each with a link of its own. Whoever holds one emailed link holds the mailbox,
   * so they may see and answer every sign-up made with it for the action, theirs among others
   * someone made in their name: no sign-up can wait unseen behind another.
   */
  others?: { token: string; createdAt: string; signup: SignupDetails }[];
  /** once this sign-up is the confirmed signature: its receipt code (whoever holds the link holds the mailbox it was sent to) */
  receipt?: string | null;
}

/** The receipt of a sign-up that is a confirmed signature, opened with its supporter's data key. */
function receiptOf(row: TokenRow): string | null {
  if (row.status !== SignatureStatus.CONFIRMED) return null;
  return openOrNull(supporterKey(row.supporter_id, row.data_key), row.supporter_id, 'receipt', row.receipt_sealed);
}

/** How many other waiting sign-ups a confirmation page lists. */
export const OTHERS_LISTED = 20_000;

async function waitingBeside(deps: SignatureDeps, row: TokenRow): Promise<NonNullable<ConfirmationView['others']>> {
  // by person, then by status (see 'Person first' in db/hot-statements.ts)
  const rows = await qb(deps.pool)
    .with(
      (cte) => cte('s').materialized(),
      (db) =>
        db
          .selectFrom('signatures as s')
          .select(['s.id', 's.status', 's.created_at', ...SIGNUP_COLUMNS])
          .where('s.action_id', '=', row.action_id)
          .where('s.supporter_id', '=', row.supporter_id)
          .where('s.id', '<>', row.id),
    )
    .selectFrom('s')
    .selectAll()
    .where('s.status', '=', SignatureStatus.PENDING)
    .orderBy('s.created_at')
    .orderBy('s.id')
    .limit(OTHERS_LISTED)
    .execute();
  return rows.map((r) => {
    const signup = signupDetails(r, row.data_key);
    return { token: confirmationToken(deps, r.id, storedVersion(r, row.data_key)), createdAt: r.created_at.toISOString(), signup };
  });
}

/** Why a signature is invalidated when its owner discards it. */
export const DISCARDED_BY_OWNER = 'not_me';

type TokenRow = RowOf<(typeof signatureForTokenQuery)['columns']>;

function checkToken(deps: Pick<SignatureDeps, 'secret' | 'clock'>, token: string): { signatureId: string; version: string | null } {
  const check = verifyToken(deps.secret, CONFIRM, token, deps.clock());
  if (!check.ok) {
    if (check.reason === 'expired') throw gone('link_expired', 'This confirmation link has expired; sign again to get a new one');
    throw notFound('invalid_link', 'This confirmation link is not valid');
  }
  const [signatureId = '', version = null] = check.subject.split(':');
  if (!UUID.test(signatureId)) throw notFound('invalid_link', 'This confirmation link is not valid');
  return { signatureId, version };
}

/**
 * Reads the signature a link names; with `lock` (inside a transaction), under row locks taken in
 * the order every writer of a person's rows takes them: the supporter first, then the signature.
 * A sign-up locks the supporter (its upsert) and then the signature; confirming used to lock the
 * signature and then the supporter (to give it the confirmed name), so a sign-up and a
 * confirmation of the same person at the same moment deadlocked, and PostgreSQL killed one of
 * them: a 500 (tests/promises/16-confirm-and-sign-up-at-once.test.ts).
 */
async function signatureForToken(db: pg.Pool | pg.PoolClient, signatureId: string, locale: string | undefined, lock: boolean) {
  if (lock) await runHot(db, lockSupporterOfSignature, [signatureId]);
  const rows = await runHot(db, lock ? signatureForTokenLocked : signatureForTokenQuery, [signatureId, locale ?? 'en']);
  const row = rows[0];
  if (!row || row.erased) throw notFound('invalid_link', 'This confirmation link is not valid');
  const title = row.title ?? row.default_title ?? row.slug;
  return { row, action: { slug: row.slug, title, locale: row.title !== null ? (locale ?? 'en') : row.default_locale } };
}

/**
 * Where a signature stands for the holder of a link. `versions` are what the holder saw: the
 * link's own (from its email) and the one the page's button sent back; each given one must
 * match the sign-up as it is now, or it was replaced.
 */
function standing(row: TokenRow, versions: (string | null | undefined)[]): { status: ConfirmationStatus; version: string | null } {
  if (row.status === SignatureStatus.CONFIRMED) return { status: 'confirmed', version: null };
  if (row.status === SignatureStatus.INVALIDATED) {
    if (row.invalid_reason === DISCARDED_BY_OWNER) return { status: 'discarded', version: null };
    // the owner confirmed another sign-up of the action: theirs is the signature that counts
    if (row.invalid_reason === SUPERSEDED) return { status: 'confirmed', version: null };
    throw notFound('invalid_link', 'This confirmation link is not valid');
  }
  const version = storedVersion(row, row.data_key);
  if (versions.some((v) => v && v !== version)) return { status: 'replaced', version: null };
  return { status: 'pending', version };
}

export async function viewConfirmation(deps: SignatureDeps, token: string, locale?: string): Promise<ConfirmationView> {
  const link = checkToken(deps, token);
  const { row, action } = await signatureForToken(deps.pool, link.signatureId, locale, false);
  const { status, version } = standing(row, [link.version]);
  if (status === 'discarded') return { status, action, others: await waitingBeside(deps, row) };
  if (status === 'confirmed') return { status, action, receipt: receiptOf(row) };
  if (status !== 'pending') return { status, action };
  return { status, action, signup: signupDetails(row, row.data_key), version: version!, others: await waitingBeside(deps, row) };
}

const replacedError = () =>
  conflict('signup_replaced', 'This sign-up no longer holds the details this link or page showed (a newer sign-up with this address may have replaced it); use the link in the newest email');

/**
 * Confirms once; a second confirmation of the same signature is answered, not repeated.
 * What the sign-up gave becomes the person's now, in the same transaction: the supporter's name
 * and country, and a consent record for each purpose (given or not).
 */
export async function confirm(
  deps: SignatureDeps,
  token: string,
  locale?: string,
  shownVersion?: string,
): Promise<{ status: 'confirmed' | 'already_confirmed'; action: ConfirmationAction; receipt: string | null }> {
  const link = checkToken(deps, token);
  // every effect is inside the transaction (the cache is told after it commits): safe to run again
  const outcome = await inTransaction(deps.pool, async (tx) => {
    const { row, action } = await signatureForToken(tx, link.signatureId, locale, true);
    const { status } = standing(row, [link.version, shownVersion]);
    if (status === 'confirmed') return { won: false as const, action, receipt: receiptOf(row) };
    if (status === 'replaced') throw replacedError();
    if (status === 'discarded') throw conflict('signup_discarded', 'This sign-up was discarded; sign again if you want to sign');
    const confirmedAt = deps.clock();
    const [sig] = await recordConfirmations(tx, [row.id], confirmedAt);
    // none: the person's signature of the action was confirmed already, through another of
    // their sign-ups, and this one is now set aside
    if (!sig) return { won: false as const, action, receipt: null };
    // the confirmation and its webhook event (if any endpoint listens) commit together
    await emitEvent(tx, 'signature.confirmed', {
      signatureId: row.id,
      actionId: sig.action_id,
      action: row.slug,
      country: sig.country,
      // the public count as served now; this signature is folded in within a second
      actionCount: deps.cache.count(sig.action_id),
    });
    // the sign-up's receipt, made with it: now it speaks for a counted signature
    const receipt = openOrNull(supporterKey(row.supporter_id, row.data_key), row.supporter_id, 'receipt', row.receipt_sealed);
    return { won: true as const, action, receipt, seconds: (confirmedAt.getTime() - sig.created_at.getTime()) / 1000 };
  }, { retries: 3 });
  if (!outcome.won) return { status: 'already_confirmed', action: outcome.action, receipt: outcome.receipt };
  // observed once the confirmation has committed (a transaction retried after a deadlock is not counted twice)
  confirmationLatency.observe(Math.max(0, outcome.seconds));
  // the public count of this process shows it at once, others at their next reload (action.service.ts)
  deps.cache.confirmed(outcome.action.slug);
  return { status: 'confirmed', action: outcome.action, receipt: outcome.receipt };
}

/**
 * "This was not me": the owner of the address discards a pending sign-up. It is never
 * counted, confirmed or reminded of, and what it said in the person's name (names, contact
 * choice, letter) is wiped; the row stays invalidated for staff. Other sign-ups with the
 * address for the action (their own, say) are left as they are, and a later clean sign-up is
 * a new one. Discarding twice is answered, not repeated.
 */
export async function discard(
  deps: SignatureDeps,
  token: string,
  locale?: string,
  shownVersion?: string,
): Promise<{ status: 'discarded'; action: ConfirmationAction }> {
  const link = checkToken(deps, token);
  const outcome = await inTransaction(deps.pool, async (tx) => {
    const { row, action } = await signatureForToken(tx, link.signatureId, locale, true);
    const { status } = standing(row, [link.version, shownVersion]);
    if (status === 'discarded') return { status, action, changed: false };
    if (status === 'replaced') throw replacedError();
    if (status === 'confirmed') throw conflict('already_confirmed', 'This signature is already confirmed; change or erase it on your data page');
    const done = await qb(tx)
      .updateTable('signatures')
      .set({
        status: SignatureStatus.INVALIDATED,
        invalidated_at: deps.clock(),
        invalid_reason: DISCARDED_BY_OWNER,
        pending_name: null,
        pending_contact: null,
        letter: null,
        signup_version: null,
        named_disclosure: false,
        named_to_own_country: false,
        public_wall: false,
      })
      .where('id', '=', row.id)
      .where('status', '=', SignatureStatus.PENDING)
      .executeTakeFirst();
    return { status: 'discarded' as const, action, changed: done.numUpdatedRows > 0n };
  }, { retries: 3 });
  // counted once the discarding has committed, and only by the request that made it
  if (outcome.changed) signaturesInvalidated.inc({ reason: 'not_me' });
  return { status: outcome.status, action: outcome.action };
}

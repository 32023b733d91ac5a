import type pg from 'pg';
import type { ActionCache } from '../action/action.service.ts';
import { isSigningOpen } from '../action/action.service.ts';
import type { Queues } from '../queue/queue.ts';
import { personalLetter } from '../letter/letter-preview.service.ts';
import { conflict, gone, notFound, tooMany, unavailable } from '../shared/errors.ts';
import { hashIp, hashNetwork, signToken, verifyToken } from '../shared/tokens.ts';
import { canonicalEmail } from '../supporter/email.ts';
import { inTransaction } from '../db/db.ts';
import { emitEvent } from '../webhook/webhook.service.ts';
import type { AbuseGuard } from '../abuse/abuse.service.ts';
import type { SignInput } from './signature.schema.ts';
import type { SignatureWriter } from './signature.repository.ts';

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
 * server's (see the README, "Integrations"). `apiKey` is the id of the integrator's key.
 */
export interface SigningClient {
  ip: string;
  apiKey?: string;
}

const CONFIRM = 'confirm-signature';

export async function sign(deps: SignatureDeps, slug: string, input: SignInput, ctx: SigningClient): Promise<void> {
  const action = await deps.cache.find(slug);
  if (!action) throw notFound('action_not_found', `No action is published at "${slug}"`);
  if (action.status !== 'PUBLISHED') throw conflict('action_closed', 'This action is closed and no longer takes signatures');
  if (action.signingPausedAll) throw conflict('signing_paused', 'Signing is paused on every action; please try again later');
  if (!isSigningOpen(action)) throw conflict('signing_paused', 'Signing is paused on this action; please try again later');
  if (deps.writer.full) throw unavailable('overloaded', 'Too many signatures are arriving at once; please try again in a moment', 2);
  if (ctx.apiKey && deps.abuse) {
    const budget = await deps.abuse.allowKeySignature(ctx.apiKey);
    if (!budget.ok) throw tooMany('signing_rate_limited', `This key may record ${budget.limit} signatures per 10 minutes; try again in ${budget.retryAfter} s`, budget.retryAfter);
  }

  const own = personalLetter(action, input.letterSubject, input.letterBody);
  const canonical = canonicalEmail(input.email);
  // Offenders are not told: they get the same answer, and their signature is stored
  // invalidated with the reason (never counted, emailed or delivered; staff see it).
  const honeypot = Boolean(input.website && input.website.trim() !== '');
  const verdict = honeypot ? 'honeypot' : ((await deps.abuse?.checkSignature({ ip: ctx.ip, canonicalEmail: canonical })) ?? null);
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
  if (verdict !== null) return;
  // The signature is durable; the email job is a nudge. If Redis is away the sweeper
  // finds the owed confirmation in the database and enqueues it later.
  deps.queues.enqueueConfirmations([written]).catch((err: unknown) => {
    deps.log.warn({ err: String(err) }, 'confirmation enqueue failed; the sweeper will retry');
  });
}

export function confirmationToken(deps: Pick<SignatureDeps, 'secret' | 'clock' | 'confirmLinkTtlHours'>, signatureId: string): string {
  const expires = new Date(deps.clock().getTime() + deps.confirmLinkTtlHours * 3_600_000);
  return signToken(deps.secret, CONFIRM, signatureId, expires);
}

export interface ConfirmationView {
  status: 'pending' | 'confirmed';
  action: { slug: string; title: string };
}

async function signatureForToken(deps: SignatureDeps, token: string, locale: string | undefined) {
  const check = verifyToken(deps.secret, CONFIRM, token, deps.clock());
  if (!check.ok) {
    if (check.reason === 'expired') throw gone('link_expired', 'This confirmation link has expired; sign again to get a new one');
    throw notFound('invalid_link', 'This confirmation link is not valid');
  }
  const { rows } = await deps.pool.query<{ id: string; status: string; slug: string; title: string | null; default_title: string | null }>({
    name: 'signature-for-token',
    text: `SELECT s.id, s.status, a.slug,
            (SELECT title FROM action_texts WHERE action_id = a.id AND locale = $2) AS title,
            (SELECT title FROM action_texts WHERE action_id = a.id AND locale = a.default_locale) AS default_title
     FROM signatures s JOIN actions a ON a.id = s.action_id WHERE s.id = $1`,
    values: [check.subject, locale ?? 'en'],
  });
  const row = rows[0];
  if (!row || row.status === 'INVALIDATED') throw notFound('invalid_link', 'This confirmation link is not valid');
  return { row, action: { slug: row.slug, title: row.title ?? row.default_title ?? row.slug } };
}

export async function viewConfirmation(deps: SignatureDeps, token: string, locale?: string): Promise<ConfirmationView> {
  const { row, action } = await signatureForToken(deps, token, locale);
  return { status: row.status === 'CONFIRMED' ? 'confirmed' : 'pending', action };
}

/** Confirms once; a second confirmation of the same signature is answered, not repeated. */
export async function confirm(
  deps: SignatureDeps,
  token: string,
  locale?: string,
): Promise<{ status: 'confirmed' | 'already_confirmed'; action: { slug: string; title: string } }> {
  const { row, action } = await signatureForToken(deps, token, locale);
  // the confirmation and its webhook event (if any endpoint listens) commit together
  const won = await inTransaction(deps.pool, async (tx) => {
    const updated = await tx.query<{ action_id: string; country: string }>({
      name: 'signature-confirm',
      text: `UPDATE signatures SET status = 'CONFIRMED', confirmed_at = $2 WHERE id = $1 AND status = 'PENDING' RETURNING action_id, country`,
      values: [row.id, deps.clock()],
    });
    const sig = updated.rows[0];
    if (sig) {
      await emitEvent(tx, 'signature.confirmed', {
        signatureId: row.id,
        actionId: sig.action_id,
        action: row.slug,
        country: sig.country,
        // the public count as served now; this signature is folded in within a second
        actionCount: deps.cache.count(sig.action_id),
      });
    }
    return updated.rowCount === 1;
  });
  if (won) {
    // the public count of this process shows it at once, others at their next reload (action.service.ts)
    deps.cache.confirmed(row.slug);
    return { status: 'confirmed', action };
  }
  const again = await deps.pool.query<{ status: string }>('SELECT status FROM signatures WHERE id = $1', [row.id]);
  if (again.rows[0]?.status === 'CONFIRMED') return { status: 'already_confirmed', action };
  throw notFound('invalid_link', 'This confirmation link is not valid');
}

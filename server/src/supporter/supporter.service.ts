// Member self-service without accounts. Two kinds of signed, expiring links carry the
// supporter id: `unsubscribe` (in every member email, valid 400 days) and `my-data` (sent on
// request, valid 24 hours: it shows and changes everything we hold, and can erase it).
// An erased supporter has no links any more: both kinds answer 404 invalid_link.
import type pg from 'pg';
import { conflict, gone, notFound } from '../shared/errors.ts';
import { signToken, verifyToken } from '../shared/tokens.ts';
import { canonicalEmail } from './email.ts';
import {
  changeConsent as changeConsentRow,
  eraseSupporter,
  findMailableByCanonicalEmail,
  findSupporter,
  loadExport,
  markUnsubscribed,
  type SupporterRow,
  supporterEmail,
} from './supporter.repository.ts';
import type { ConsentChange, MyDataExport } from './supporter.schema.ts';

export const UNSUBSCRIBE_PURPOSE = 'unsubscribe';
export const MY_DATA_PURPOSE = 'my-data';
export const UNSUBSCRIBE_TTL_HOURS = 400 * 24;
export const MY_DATA_TTL_HOURS = 24;

export interface TokenDeps {
  secret: string;
  clock: () => Date;
}

export interface SupporterDeps extends TokenDeps {
  pool: pg.Pool;
}

function tokenFor(deps: TokenDeps, purpose: string, ttlHours: number, supporterId: string): string {
  return signToken(deps.secret, purpose, supporterId, new Date(deps.clock().getTime() + ttlHours * 3_600_000));
}

export function unsubscribeToken(deps: TokenDeps, supporterId: string): string {
  return tokenFor(deps, UNSUBSCRIBE_PURPOSE, UNSUBSCRIBE_TTL_HOURS, supporterId);
}

export function myDataToken(deps: TokenDeps, supporterId: string): string {
  return tokenFor(deps, MY_DATA_PURPOSE, MY_DATA_TTL_HOURS, supporterId);
}

const invalidLink = () => notFound('invalid_link', 'This link is not valid');

/** The live supporter a link speaks for: 410 when expired, 404 when forged, unknown or erased. */
async function supporterFor(deps: SupporterDeps, purpose: string, token: string): Promise<SupporterRow> {
  const check = verifyToken(deps.secret, purpose, token, deps.clock());
  if (!check.ok) {
    if (check.reason === 'expired') {
      throw gone(
        'link_expired',
        purpose === MY_DATA_PURPOSE
          ? 'This link has expired; ask for a new one on the "my data" page'
          : 'This link has expired; use the link in a more recent email from us',
      );
    }
    throw invalidLink();
  }
  const sup = await findSupporter(deps.pool, check.subject);
  if (!sup || sup.erased_at) throw invalidLink();
  return sup;
}

// ---------------------------------------------------------------- unsubscribe

/**
 * The supporter of a genuine unsubscribe link, or null when they were erased (or deleted) since:
 * nothing will be emailed to them again, so the link answers "unsubscribed", which is true. A
 * 404 there made mail clients report a one-click unsubscribe (RFC 8058) as failed.
 */
async function unsubscribeSupporter(deps: SupporterDeps, token: string): Promise<SupporterRow | null> {
  try {
    return await supporterFor(deps, UNSUBSCRIBE_PURPOSE, token);
  } catch (err) {
    const check = verifyToken(deps.secret, UNSUBSCRIBE_PURPOSE, token, deps.clock());
    if (check.ok) {
      const sup = await findSupporter(deps.pool, check.subject);
      if (!sup || sup.erased_at) return null;
    }
    throw err;
  }
}

export async function unsubscribeStatus(deps: SupporterDeps, token: string): Promise<{ status: 'subscribed' | 'unsubscribed' }> {
  const sup = await unsubscribeSupporter(deps, token);
  return { status: !sup || sup.unsubscribed_at ? 'unsubscribed' : 'subscribed' };
}

/** Idempotent: the first call records the withdrawal, later ones answer the same. */
export async function unsubscribe(deps: SupporterDeps, token: string): Promise<{ status: 'unsubscribed' }> {
  const sup = await unsubscribeSupporter(deps, token);
  // erased or deleted, now or meanwhile ('gone'): nothing is emailed to them again either way
  if (sup) await markUnsubscribed(deps.pool, sup.id, deps.clock());
  return { status: 'unsubscribed' };
}

// ---------------------------------------------------------------- my data

/** Who a "my data" request is for; null (and nothing to send) when the address is unknown or erased. */
export async function findSupporterForRequest(pool: pg.Pool, email: string): Promise<{ id: string; email: string; locale: string } | null> {
  const sup = await findMailableByCanonicalEmail(pool, canonicalEmail(email));
  const address = sup ? supporterEmail(sup) : null;
  return sup && address ? { id: sup.id, email: address, locale: sup.locale } : null;
}

export async function exportMyData(deps: SupporterDeps, token: string): Promise<MyDataExport> {
  const sup = await supporterFor(deps, MY_DATA_PURPOSE, token);
  const data = await loadExport(deps.pool, sup.id, deps.clock());
  if (!data) throw invalidLink();
  return data;
}

export async function changeConsent(deps: SupporterDeps, token: string, change: ConsentChange): Promise<MyDataExport> {
  const sup = await supporterFor(deps, MY_DATA_PURPOSE, token);
  const outcome = await changeConsentRow(deps.pool, {
    supporterId: sup.id,
    signatureId: change.signatureId ?? null,
    purpose: change.purpose,
    granted: change.granted,
    at: deps.clock(),
  });
  if (outcome === 'gone') throw invalidLink();
  if (outcome === 'signature_not_found') throw notFound('signature_not_found', 'You have no confirmed signature with this id');
  if (outcome === 'needs_named') {
    throw conflict('needs_named_disclosure', 'Naming you to officials of your own country needs your consent to be named to officials first');
  }
  return exportMyData(deps, token);
}

export async function erase(deps: SupporterDeps, token: string): Promise<{ status: 'erased' }> {
  const sup = await supporterFor(deps, MY_DATA_PURPOSE, token);
  if (!(await eraseSupporter(deps.pool, sup.id, deps.clock()))) throw invalidLink();
  return { status: 'erased' };
}

// Delivers one letter: claim it (a due PENDING letter, or a stale SUBMITTING one left by a
// crashed worker), render it in the target's language, hand it to SMTP with its
// deterministic Message-ID, and record the outcome. At-least-once: a crash between SMTP
// acceptance and the SENT update resends the same message with the same Message-ID.
// Retries are scheduled in the database (next_attempt_at) and a delayed job is only the
// reminder to look, so the database alone decides when a letter is tried again.
import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { classifySendError, type Mailer } from '../mail/mailer.ts';
import { render, type RenderedMail } from '../mail/render.ts';
import { bounceAddress } from '../delivery/bounce.service.ts';
import { holdForDomainLimit, type DomainLimiter } from '../delivery/domain-limit.ts';
import type { Queues } from '../queue/queue.ts';
import { mailDomain } from '../signature/confirmation.service.ts';
import { countriesForOfficial, mayName, regionNames, renderMemberLetter, type SignerForLetter, type SignerGroup } from './member-letter.ts';
import { packetToken, packetUrl, signerGroups } from '../delivery/packet.service.ts';
import { updateLetterWithEvent } from '../webhook/webhook.service.ts';
import { LetterStatus } from '../db/db.ts';

export interface LetterDeps {
  pool: pg.Pool;
  mailer: Mailer;
  mailFrom: string;
  organisation: string;
  /** a SUBMITTING claim older than this is taken to belong to a dead worker */
  staleSubmittingMs: number;
  clock: () => Date;
  /** schedules the next try of a letter after a transient failure */
  queues: Pick<Queues, 'enqueueLetters'>;
  /** random source for backoff jitter (tests pass a fixed one) */
  random?: () => number;
  /** per-recipient-domain rate limit; without one, letters are not limited */
  domainLimiter?: DomainLimiter;
  /** key of the packet link and of the return path's MAC in each letter (SECRET_KEY) */
  packetSecret: string;
  /** base of the packet link (PUBLIC_BASE_URL) */
  publicBaseUrl: string;
  /** PUBLIC_COUNTRY_MIN (countryForOfficial) */
  countryMin: number;
  /** the signers of a batch read once for all its letters; without one, each letter reads them */
  signerCache?: BatchSignerCache;
}

/** What the packet link in a letter needs: the key, the public address and the time it is signed at. */
export interface PacketLinkOptions {
  /** SECRET_KEY */
  secret: string;
  /** PUBLIC_BASE_URL */
  publicBaseUrl: string;
  now?: Date;
  /** not of the link: PUBLIC_COUNTRY_MIN, which the letter's countries follow (countryForOfficial) */
  countryMin: number;
}

function packetLink(letterId: string, locale: string, opts: PacketLinkOptions): string {
  return packetUrl(opts.publicBaseUrl, locale, packetToken(opts.secret, letterId, opts.now ?? new Date()));
}

/** After this many transient failures a letter is given up as FAILED and shown to staff. */
export const MAX_LETTER_ATTEMPTS = 20;

/** Exponential backoff with jitter: about 2 s, 4 s, 8 s ... capped at an hour, each between half and all of that. */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(2_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

export type LetterOutcome = 'sent' | 'not-owed' | 'retry-scheduled' | 'deferred';

/** At most this many signers are read per letter for names and personalised letters. */
const MAX_NAMES = 500;
/** A digest carries a selection of personalised letters, not all of them. */
const MAX_MEMBER_LETTERS = 20;

/** How a letter greets its target: the target's own salutation, else its title, else its name. */
export function letterSalutation(t: { salutation: string; title: string; name: string }): string {
  return t.salutation || t.title || t.name;
}

/** Everything the `letter` template is filled with; the delivery and the staff preview both build one. */
export interface LetterContent {
  locale: string;
  /** the action's texts in `locale` (or its fallback) */
  text: { title: string; summary: string; body: string; letterSubject: string; letterBody: string };
  salutation: string;
  newCount: number;
  totalCount: number;
  /** ISO codes of the countries this official may see the signers in (countriesForOfficial), most frequent first */
  countries: string[];
  /** signers whose country is not shown to this official (countriesForOfficial); 0 when absent */
  countryNotShown?: number;
  names: string[];
  memberLetters: ReturnType<typeof renderMemberLetter>[];
  organisation: string;
  packetUrl: string;
}

/** The one rendering of a letter to an official, used by delivery and by the console's preview. */
export function composeLetter(c: LetterContent): RenderedMail {
  const countryNames = regionNames(c.locale);
  return render('letter', c.locale, {
    // the text addressed to officials; a petition without one sends its public summary and body
    subject: c.text.letterSubject || c.text.title,
    salutation: c.salutation,
    body: c.text.letterBody || [c.text.summary, c.text.body].filter(Boolean).join('\n\n'),
    newCount: c.newCount,
    totalCount: c.totalCount,
    countries: c.countries.map((code) => countryNames.of(code) ?? code).join(', '),
    countryNotShown: c.countryNotShown ?? 0,
    names: c.names,
    memberLetters: c.memberLetters,
    unnamedCount: Math.max(0, c.newCount - c.names.length),
    organisation: c.organisation,
    packetUrl: c.packetUrl,
  });
}

/** The signers a letter may name or quote, as renderLetter reads them. */
interface LetterSigner {
  first_name: string | null;
  last_name: string | null;
  country: string;
  named_disclosure: boolean;
  named_to_own_country: boolean;
  letter_subject: string | null;
  letter_body: string | null;
}

/** What the letters of one batch (to targets of one country, for BY_SIGNER_COUNTRY) share. */
interface BatchSigners {
  /** all the batch's confirmed signers by country and consents: each letter sees them through countriesForOfficial */
  groups: SignerGroup[];
  signers: LetterSigner[];
}

/**
 * The signers of a batch, shared by its letters: every letter of a batch speaks for the same
 * signatures, so a worker reads them once for the batch rather than once per target. An entry
 * is used only while the action's signatures are unchanged since it was read (the stamp is
 * the newest signatures.updated_at of the action, which every change that matters to a letter
 * moves: status, consent to be named, erasure of the supporter, and new signatures), and for
 * at most `maxAgeMs` besides. Concurrent letters of one batch wait for one read.
 */
export interface BatchSignerCache {
  get(key: string, stamp: string, read: () => Promise<BatchSigners>): Promise<BatchSigners>;
}

export function createBatchSignerCache(opts: { maxEntries?: number; maxAgeMs?: number; now?: () => number } = {}): BatchSignerCache {
  const maxEntries = opts.maxEntries ?? 256;
  const maxAgeMs = opts.maxAgeMs ?? 10_000;
  const now = opts.now ?? Date.now;
  const entries = new Map<string, { stamp: string; at: number; value: Promise<BatchSigners> }>();
  return {
    get(key, stamp, read) {
      const hit = entries.get(key);
      if (hit && hit.stamp === stamp && now() - hit.at <= maxAgeMs) return hit.value;
      const value = read();
      entries.delete(key);
      entries.set(key, { stamp, at: now(), value });
      // a failed read is not kept
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
      return value;
    },
  };
}

/** Member letters already rendered from a list of signers (a cached list is shared by the letters of its batch). */
const renderedMemberLetters = new WeakMap<LetterSigner[], Map<string, ReturnType<typeof renderMemberLetter>>>();

/** The signers by country and consents, and the signers a letter may name or quote. */
async function readBatchSigners(
  pool: pg.Pool | pg.PoolClient,
  batchId: string,
  targetCountry: string | null,
  byCountry: boolean,
): Promise<BatchSigners> {
  // a BY_SIGNER_COUNTRY letter speaks only for the signers from the target's country;
  // signers who may be named, and personalised letters: the rule of who is named to whom
  // lives in member-letter.ts, shared with the preview members see before signing
  const groups = await signerGroups(pool, batchId, targetCountry, byCountry);
  const { rows } = await pool.query<Pick<BatchSigners, 'signers'>>(
    `SELECT (SELECT COALESCE(json_agg(x ORDER BY x.confirmed_at), '[]'::json) FROM (
               SELECT p.first_name, p.last_name, s.country, s.named_disclosure, s.named_to_own_country, s.letter_subject, s.letter_body,
                      s.confirmed_at
               FROM signatures s JOIN supporters p ON p.id = s.supporter_id
               WHERE s.batch_id = $1 AND s.status = 'CONFIRMED' AND p.erased_at IS NULL
                 AND (s.named_disclosure OR s.letter_body IS NOT NULL)
                 AND (NOT $3::bool OR s.country = $2)
               ORDER BY s.confirmed_at LIMIT $4) x) AS signers`,
    [batchId, targetCountry, byCountry, MAX_NAMES],
  );
  return { groups, signers: rows[0]!.signers };
}

/** A letter's row with what rendering it needs: its batch, action, texts in its language and target. */
interface LetterRow {
  id: string;
  locale: string;
  message_id: string;
  signature_count: number;
  batch_id: string;
  total_count: number;
  kind: string;
  target_mode: string;
  reply_to: string | null;
  title: string;
  summary: string;
  body: string;
  letter_subject: string;
  letter_body: string;
  target_email: string;
  target_name: string;
  target_country: string | null;
  salutation: string;
  target_title: string;
  /** the signer cache's stamp (see BatchSignerCache); null when $2 asks for none */
  stamp: string | null;
}

/** The LetterRow of each letter in `source` (aliased l); $2 says whether to read the stamp. */
function letterRowSql(source: string): string {
  return `SELECT l.id, l.locale, l.message_id, l.signature_count, l.batch_id, b.total_count, a.kind, a.target_mode, a.reply_to,
            t.title, t.summary, t.body, t.letter_subject, t.letter_body,
            g.email AS target_email, g.name AS target_name, g.country AS target_country, g.salutation, g.title AS target_title,
            CASE WHEN $2::bool THEN (SELECT max(s.updated_at) FROM signatures s WHERE s.action_id = b.action_id)::text END AS stamp
     FROM ${source} l
     JOIN delivery_batches b ON b.id = l.batch_id
     JOIN actions a ON a.id = b.action_id
     JOIN targets g ON g.id = l.target_id
     JOIN LATERAL (SELECT * FROM action_texts x WHERE x.action_id = a.id
                   ORDER BY (x.locale = l.locale) DESC, (x.locale = a.default_locale) DESC LIMIT 1) t ON true`;
}

/**
 * Renders a letter from its rows; `pool` may be a client inside a transaction (the delivery
 * preview). With a `cache`, the signers are read once per batch (see BatchSignerCache).
 */
export async function renderLetter(
  pool: pg.Pool | pg.PoolClient,
  letterId: string,
  organisation: string,
  packet: PacketLinkOptions,
  cache?: BatchSignerCache,
) {
  const { rows } = await pool.query<LetterRow>(`${letterRowSql('letters')} WHERE l.id = $1`, [letterId, cache !== undefined]);
  const l = rows[0];
  if (!l) return null;
  return renderLetterRow(pool, l, organisation, packet, cache);
}

async function renderLetterRow(
  pool: pg.Pool | pg.PoolClient,
  l: LetterRow,
  organisation: string,
  packet: PacketLinkOptions,
  cache: BatchSignerCache | undefined,
) {
  const byCountry = l.target_mode === 'BY_SIGNER_COUNTRY';
  const read = () => readBatchSigners(pool, l.batch_id, l.target_country, byCountry);
  const { groups, signers } =
    cache && l.stamp !== null ? await cache.get(`${l.batch_id}:${byCountry ? (l.target_country ?? '-') : '*'}`, l.stamp, read) : await read();
  const toSigner = (r: LetterSigner): SignerForLetter => ({
    firstName: r.first_name,
    lastName: r.last_name,
    country: r.country,
    namedDisclosure: r.named_disclosure,
    namedToOwnCountry: r.named_to_own_country,
  });
  const names = signers
    .filter((r) => mayName(l.target_country, toSigner(r)))
    .map((r) => [r.first_name, r.last_name].filter(Boolean).join(' '));
  const salutation = letterSalutation({ salutation: l.salutation, title: l.target_title, name: l.target_name });
  // A member's letter reads the same to every target of the batch with the same language and
  // salutation, except that the sign-off depends on whether the target is of the signer's own
  // country: rendered once per such variant while the batch's signers are cached.
  let rendered = renderedMemberLetters.get(signers);
  if (!rendered) renderedMemberLetters.set(signers, (rendered = new Map()));
  const memberLetters = signers
    .filter((r) => r.letter_body)
    .slice(0, MAX_MEMBER_LETTERS)
    .map((r, i) => {
      const subject = r.letter_subject || l.letter_subject || l.title;
      const key = [i, l.locale, salutation, subject, l.target_country !== null && l.target_country === r.country].join('\u0000');
      let letter = rendered.get(key);
      if (!letter) {
        letter = renderMemberLetter(l.locale, { country: l.target_country, salutation }, { subject, body: r.letter_body! }, toSigner(r));
        rendered.set(key, letter);
      }
      return letter;
    });
  // where this official may see the signers: the one rule, in member-letter.ts
  const seen = countriesForOfficial(l.target_country, groups, packet.countryMin);
  const mail = composeLetter({
    locale: l.locale,
    text: { title: l.title, summary: l.summary, body: l.body, letterSubject: l.letter_subject, letterBody: l.letter_body },
    salutation,
    newCount: l.signature_count,
    totalCount: l.total_count,
    countries: seen.countries.map((c) => c.country),
    countryNotShown: seen.notShown,
    names,
    memberLetters,
    organisation,
    // the signed link to the full delivery (every signature, PDF and CSV), valid 90 days
    packetUrl: packetLink(l.id, l.locale, packet),
  });
  return { letter: l, mail };
}

export async function deliverLetter(deps: LetterDeps, letterId: string): Promise<LetterOutcome> {
  const claimedAt = deps.clock();
  // the claim answers the letter's row for rendering too: one round trip
  const claim = await deps.pool.query<LetterRow>(
    `WITH claimed AS (
       UPDATE letters SET status = 'SUBMITTING', submitting_at = $3, attempts = attempts + 1
       WHERE id = $1 AND ((status = 'PENDING' AND next_attempt_at <= $3) OR (status = 'SUBMITTING' AND submitting_at < $4))
       RETURNING *
     )
     ${letterRowSql('claimed')}`,
    [letterId, deps.signerCache !== undefined, claimedAt, new Date(claimedAt.getTime() - deps.staleSubmittingMs)],
  );
  const row = claim.rows[0];
  if (!row) return 'not-owed';
  // over its domain's limit, a letter gives its claim back and waits for the next window
  // without an attempt counted (a letter that is not owed took no slot: it was not claimed)
  if (deps.domainLimiter && (await holdForDomainLimit({ ...deps, domainLimiter: deps.domainLimiter }, letterId, row.target_email, claimedAt))) {
    return 'deferred';
  }

  const rendered = await renderLetterRow(
    deps.pool,
    row,
    deps.organisation,
    { secret: deps.packetSecret, publicBaseUrl: deps.publicBaseUrl, now: deps.clock(), countryMin: deps.countryMin },
    deps.signerCache,
  );
  const { letter, mail } = rendered;
  try {
    const info = await deps.mailer.sendMail({
      from: deps.mailFrom,
      to: letter.target_email,
      // VERP: a bounce comes back to an address that names this letter, with a MAC (bounce.service.ts)
      envelope: { from: bounceAddress(letter.id, mailDomain(deps.mailFrom), deps.packetSecret), to: letter.target_email },
      replyTo: letter.reply_to ?? undefined,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: letter.message_id,
      headers: { 'X-Chorus-Letter': letter.id },
    });
    // SENT and letter.delivered for webhooks in one statement, so the event comes with the state change
    await updateLetterWithEvent(deps.pool, 'letter.delivered', (letters) =>
      letters
        .set({ status: LetterStatus.SENT, sent_at: deps.clock(), smtp_response: String((info as { response?: string }).response ?? '').slice(0, 900), last_error: null })
        .where('id', '=', letterId)
        .where('status', '=', LetterStatus.SUBMITTING),
    );
    return 'sent';
  } catch (err) {
    const failure = classifySendError(err);
    if (failure.permanent) {
      await deps.pool.query(`UPDATE letters SET status = 'FAILED', last_error = $2 WHERE id = $1 AND status = 'SUBMITTING'`, [
        letterId,
        failure.reason,
      ]);
      throw new UnrecoverableError(`letter refused: ${failure.reason}`);
    }
    const { rows } = await deps.pool.query<{ attempts: number }>(`SELECT attempts FROM letters WHERE id = $1`, [letterId]);
    const attempts = rows[0]?.attempts ?? 1;
    if (attempts >= MAX_LETTER_ATTEMPTS) {
      await deps.pool.query(`UPDATE letters SET status = 'FAILED', last_error = $2 WHERE id = $1 AND status = 'SUBMITTING'`, [
        letterId,
        `gave up after ${attempts} attempts: ${failure.reason}`.slice(0, 1000),
      ]);
      throw new UnrecoverableError(`letter given up after ${attempts} attempts: ${failure.reason}`);
    }
    const delayMs = retryDelayMs(attempts, deps.random);
    await deps.pool.query(
      `UPDATE letters SET status = 'PENDING', last_error = $2, next_attempt_at = $3 WHERE id = $1 AND status = 'SUBMITTING'`,
      [letterId, failure.reason, new Date(deps.clock().getTime() + delayMs)],
    );
    await deps.queues.enqueueLetters([{ id: letterId, attempts, delayMs }]).catch(() => {
      // the sweeper finds it by next_attempt_at
    });
    return 'retry-scheduled';
  }
}

// Delivers one letter: claim it (a due PENDING letter, or a stale SUBMITTING one left by a
// crashed worker), render it in the target's language, hand it to SMTP with its
// deterministic Message-ID, and record the outcome. At-least-once: a crash between SMTP
// acceptance and the SENT update resends the same message with the same Message-ID.
// Retries are scheduled in the database (next_attempt_at) and a delayed job is only the
// reminder to look, so the database alone decides when a letter is tried again.
import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { sql, type QueryCreator, type Selectable, type Updateable } from 'kysely';
import { LetterStatus, qb, SignatureStatus, TargetMode, type DB, type Queryable } from '../db/db.ts';
import { classifySendError, type Mailer } from '../mail/mailer.ts';
import { render, type RenderedMail } from '../mail/render.ts';
import { bounceAddress } from '../delivery/bounce.service.ts';
import { holdForDomainLimit, type DomainLimiter } from '../delivery/domain-limit.ts';
import type { Queues } from '../queue/queue.ts';
import { mailDomain } from '../signature/confirmation.service.ts';
import { countriesForOfficial, mayName, memberGreeting, memberLetterLanguage, regionNames, renderMemberLetter, type SignerForLetter, type SignerGroup } from './member-letter.ts';
import { packetToken, packetUrl, signerGroups } from '../delivery/packet.service.ts';
import { updateLetterWithEvent } from '../webhook/webhook.service.ts';
import { normaliseSalutation, salutationOf } from '../shared/salutation.ts';
import { isLocale } from '../shared/locales.ts';
import { requestText } from './official-text.ts';
import { THRESHOLD_BATCH_REASON, thresholdOfLetter } from '../delivery/threshold.service.ts';
import { openPaperName, paperSignersOf } from '../action/paper.service.ts';
import { openSigner } from '../privacy/personal-data.ts';
import { rootHex, verifyUrl } from '../delivery/delivery-roots.ts';

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

/** How a letter greets its target: the target's own salutation, else its title, else its name (shared/salutation.ts). */
export const letterSalutation = salutationOf;

/** The texts of an action that a letter to an official may carry: never the page's summary, body, share text or calls to sign. */
export interface OfficialText {
  /** the language of these texts, which the whole letter is written in */
  locale: string;
  title: string;
  letterSubject: string;
  /** what officials receive; empty: a neutral sentence built from the title (the console warns) */
  officialRequest: string;
}

/** Everything the `letter` template is filled with; the delivery and the staff preview both build one. */
export interface LetterContent {
  /** the action's texts for officials, in the language the letter is written in */
  text: OfficialText;
  salutation: string;
  /** the official's language and title: a letter in another language greets them in its own (member-letter.ts memberGreeting) */
  target: { language: string; title: string };
  newCount: number;
  totalCount: number;
  /** ISO codes of the countries this official may see the signers in (countriesForOfficial), most frequent first */
  countries: string[];
  /** signers whose country is not shown to this official (countriesForOfficial); 0 when absent */
  countryNotShown?: number;
  names: string[];
  memberLetters: ReturnType<typeof renderMemberLetter>[];
  organisation: string;
  /** the signed link to the packet; empty in a staff preview, which says where it will be */
  packetUrl: string;
  preview?: boolean;
  /** a delivery of signatures collected on paper: where, and the day (already formatted) */
  paper?: { event: string; date: string };
  /**
   * what the delivery commits to (delivery/delivery-roots.ts): how many of its signatures have a
   * receipt, the root of their tree (hexadecimal), and the page where a signer checks theirs.
   * Absent, or a count of 0, and the letter says nothing of it.
   */
  receipts?: { count: number; root: string; verifyUrl: string } | null;
}

/** The one rendering of a letter to an official, used by delivery and by the console's previews. */
export function composeLetter(c: LetterContent): RenderedMail {
  const locale = c.text.locale;
  const countryNames = regionNames(locale);
  return render('letter', locale, {
    subject: c.text.letterSubject || c.text.title,
    salutation: normaliseSalutation(c.salutation),
    greeting: memberGreeting(locale, { salutation: c.salutation, ...c.target }),
    // the request to officials and nothing else of the action's texts
    request: requestText(c.text),
    newCount: c.newCount,
    totalCount: c.totalCount,
    countries: c.countries.map((code) => countryNames.of(code) ?? code).join(', '),
    countryNotShown: c.countryNotShown ?? 0,
    names: c.names,
    memberLetters: c.memberLetters,
    unnamedCount: Math.max(0, c.newCount - c.names.length),
    organisation: c.organisation,
    packetUrl: c.packetUrl,
    preview: c.preview ?? false,
    paper: c.paper ?? null,
    receipts: c.receipts && c.receipts.count > 0 ? c.receipts : null,
  });
}

/**
 * The signers of a batch a letter may name or quote, first confirmed first: those who consented
 * to be named, and those who wrote their own letter. For a BY_SIGNER_COUNTRY letter, only the
 * signers from the target's country.
 */
async function selectLetterSigners(db: Queryable, batchId: string, targetCountry: string | null, byCountry: boolean): Promise<LetterSigner[]> {
  const rows = await qb(db)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select(['s.supporter_id', 'p.data_key', 'p.name', 's.country', 's.named_disclosure', 's.named_to_own_country', 's.letter', 's.locale'])
    .where('s.batch_id', '=', batchId)
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .where('p.erased_at', 'is', null)
    .where((eb) => eb.or([eb.ref('s.named_disclosure'), eb('s.letter', 'is not', null)]))
    .$if(byCountry, (q) => q.where((eb) => eb('s.country', '=', eb.val(targetCountry))))
    .orderBy('s.confirmed_at')
    .limit(MAX_NAMES)
    .execute();
  // opened with each supporter's data key: the name only of a signer who chose to be named
  return rows.map((r) => ({
    ...openSigner(r),
    country: r.country,
    named_disclosure: r.named_disclosure,
    named_to_own_country: r.named_to_own_country,
    locale: r.locale,
  }));
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
  locale: string;
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
async function readBatchSigners(db: Queryable, batchId: string, targetCountry: string | null, byCountry: boolean): Promise<BatchSigners> {
  // a BY_SIGNER_COUNTRY letter speaks only for the signers from the target's country;
  // signers who may be named, and personalised letters: the rule of who is named to whom
  // lives in member-letter.ts, shared with the preview members see before signing
  const groups = await signerGroups(db, batchId, targetCountry, byCountry);
  const signers = await selectLetterSigners(db, batchId, targetCountry, byCountry);
  // the signatures collected on paper that the delivery carries, where they may be named (action/paper.service.ts)
  const paper = await paperSignersOf(db, batchId, targetCountry, byCountry).where('i.names_to_officials', '=', true).where('p.has_name', '=', true).orderBy('p.id').limit(MAX_NAMES).execute();
  for (const r of paper) {
    signers.push({ ...openPaperName(r), country: r.country as string, named_disclosure: r.named_disclosure, named_to_own_country: r.named_to_own_country, letter_subject: null, letter_body: null, locale: '' });
  }
  return { groups, signers };
}

/** Queries that have the letters to render as `letter` (the letter asked for, or the one just claimed). */
type WithLetter = QueryCreator<DB & { letter: Selectable<DB['letters']> }>;

/**
 * Each letter of `letter` (aliased l) with what rendering it needs: its batch, action, texts
 * in its language (else the action's default language) and target. With `withStamp`, the
 * signer cache's stamp too (see BatchSignerCache).
 */
function selectLetterRows(k: WithLetter, withStamp: boolean) {
  return k
    .selectFrom('letter as l')
    .innerJoin('delivery_batches as b', 'b.id', 'l.batch_id')
    .innerJoin('actions as a', 'a.id', 'b.action_id')
    .innerJoin('targets as g', 'g.id', 'l.target_id')
    .innerJoinLateral(
      (eb) =>
        eb
          .selectFrom('action_texts as x')
          .select(['x.locale as text_locale', 'x.title', 'x.letter_subject', 'x.official_request'])
          .whereRef('x.action_id', '=', 'a.id')
          // the whole letter in one language: see pickOfficialText
          .orderBy((eb) => eb.and([eb('x.locale', '=', eb.ref('l.locale')), eb('x.official_request', '<>', '')]), 'desc')
          .orderBy((eb) => eb.and([eb('x.locale', '=', eb.ref('a.default_locale')), eb('x.official_request', '<>', '')]), 'desc')
          .orderBy((eb) => eb('x.official_request', '<>', ''), 'desc')
          .orderBy((eb) => eb('x.locale', '=', eb.ref('l.locale')), 'desc')
          .orderBy((eb) => eb('x.locale', '=', eb.ref('a.default_locale')), 'desc')
          .orderBy('x.locale')
          .limit(1)
          .as('t'),
      (join) => join.onTrue(),
    )
    .select([
      'l.id',
      'l.locale',
      'l.message_id',
      'l.signature_count',
      'l.batch_id',
      'b.total_count',
      'b.reason',
      'b.tree_root',
      'b.leaf_count',
      'a.kind',
      'a.target_mode',
      'a.reply_to',
      't.text_locale',
      't.title',
      't.letter_subject',
      't.official_request',
      'g.email as target_email',
      'g.name as target_name',
      'g.country as target_country',
      'g.salutation',
      'g.title as target_title',
      'g.language as target_language',
      'a.default_locale',
      // the subject of each language's text, for a member's own letter in that language
      (eb) =>
        eb
          .selectFrom('action_texts as z')
          .select(sql<Record<string, string>>`coalesce(jsonb_object_agg(z.locale, coalesce(nullif(z.letter_subject, ''), z.title)), '{}'::jsonb)`.as('subjects'))
          .whereRef('z.action_id', '=', 'a.id')
          .as('text_subjects'),
      // the languages the action's page texts exist in: a member's letter starts from one of them
      (eb) =>
        eb
          .selectFrom('action_texts as y')
          .select(sql<string[]>`coalesce(array_agg(y.locale::text), '{}')`.as('locales'))
          .whereRef('y.action_id', '=', 'a.id')
          .as('text_locales'),
    ])
    .select((eb) =>
      (withStamp
        ? eb.cast<string | null>(
            eb
              .selectFrom('signatures as s')
              .select((eb) => eb.fn.max('s.updated_at').as('newest'))
              .whereRef('s.action_id', '=', 'b.action_id')
              .$asScalar(),
            'text',
          )
        : eb.lit(null).$castTo<string | null>()
      ).as('stamp'),
    );
}

/** A letter's row with what rendering it needs: its batch, action, texts in its language and target. */
type LetterRow = NonNullable<Awaited<ReturnType<ReturnType<typeof selectLetterRows>['executeTakeFirst']>>>;

/**
 * Renders a letter from its rows; `pool` may be a client inside a transaction (the delivery
 * preview). With a `cache`, the signers are read once per batch (see BatchSignerCache).
 */
export async function renderLetter(pool: Queryable, letterId: string, organisation: string, packet: PacketLinkOptions, cache?: BatchSignerCache) {
  const l = await selectLetterRows(
    qb(pool).with('letter', (db) => db.selectFrom('letters').selectAll().where('id', '=', letterId)),
    cache !== undefined,
  ).executeTakeFirst();
  if (!l) return null;
  return renderLetterRow(pool, l, organisation, packet, cache);
}

async function renderLetterRow(
  pool: Queryable,
  l: LetterRow,
  organisation: string,
  packet: PacketLinkOptions,
  cache: BatchSignerCache | undefined,
) {
  if (l.reason === THRESHOLD_BATCH_REASON) return { letter: l, mail: await renderThresholdRequest(pool, l, organisation, packet) };
  const byCountry = l.target_mode === TargetMode.BY_SIGNER_COUNTRY;
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
  // A member's own letter is wholly in the language the member wrote it in: that of the
  // action's text they started from (the page they signed on, else the action's default
  // language, as the preview says: memberLetterLocale): greeting, text and sign-off. It reads the same to every target of the batch
  // with the same salutation, except that the sign-off depends on whether the target is of
  // the signer's own country: rendered once per such variant while the batch's signers are cached.
  let rendered = renderedMemberLetters.get(signers);
  if (!rendered) renderedMemberLetters.set(signers, (rendered = new Map()));
  const memberLetters = signers
    .filter((r) => r.letter_body)
    .slice(0, MAX_MEMBER_LETTERS)
    .map((r, i) => {
      const locale = memberLetterLanguage(isLocale(r.locale) ? r.locale : null, l.text_locales ?? [], l.default_locale);
      const subject = r.letter_subject || l.text_subjects?.[locale] || l.letter_subject || l.title;
      const key = [i, locale, salutation, subject, l.target_country !== null && l.target_country === r.country].join('\u0000');
      let letter = rendered.get(key);
      if (!letter) {
        letter = renderMemberLetter(
          locale,
          { country: l.target_country, salutation, language: l.target_language, title: l.target_title },
          { subject, body: r.letter_body! },
          toSigner(r),
        );
        rendered.set(key, letter);
      }
      return letter;
    });
  // where this official may see the signers: the one rule, in member-letter.ts
  const seen = countriesForOfficial(l.target_country, groups, packet.countryMin);
  const mail = composeLetter({
    text: { locale: l.text_locale, title: l.title, letterSubject: l.letter_subject, officialRequest: l.official_request },
    salutation,
    target: { language: l.target_language, title: l.target_title },
    newCount: l.signature_count,
    totalCount: l.total_count,
    countries: seen.countries.map((c) => c.country),
    countryNotShown: seen.notShown,
    names,
    memberLetters,
    organisation,
    // the signed link to the full delivery (every signature, PDF and CSV), valid 90 days
    packetUrl: packetLink(l.id, l.locale, packet),
    // where and when the paper was signed, only for a group large enough not to point at its signers
    // (PUBLIC_COUNTRY_MIN): "3 people signed at the vigil in Davao on 30 November" could name them
    paper: l.reason === 'paper' ? await paperOfBatch(pool, l.batch_id, l.text_locale, l.signature_count >= packet.countryMin, l.target_country) : undefined,
    // the root its delivery commits to, and where a signer checks their receipt against it
    receipts: l.tree_root && l.leaf_count !== null ? { count: l.leaf_count, root: rootHex(l.tree_root), verifyUrl: verifyUrl(packet.publicBaseUrl, l.locale) } : null,
  });
  return { letter: l, mail };
}

/**
 * Where and when the paper signatures of a delivery were collected, for its letters; empty
 * (the letter then says only "on paper") unless `sayWhere`.
 */
async function paperOfBatch(pool: Queryable, batchId: string, locale: string, largeEnough: boolean, targetCountry: string | null): Promise<{ event: string; date: string } | undefined> {
  const i = await qb(pool)
    .selectFrom('paper_imports as i')
    .select((eb) => [
      'i.event',
      'i.collected_on',
      // a signer of the official's own country, or of a country the paper does not say
      eb
        .exists(
          eb
            .selectFrom('paper_signatures as p')
            .select('p.id')
            .whereRef('p.import_id', '=', 'i.id')
            .where('p.counted', '=', true)
            .where((w) => w.or([w('p.country', 'is', null), w('p.country', '=', targetCountry ?? '--')])),
        )
        .as('compatriots'),
    ])
    .where('i.batch_id', '=', batchId)
    .executeTakeFirst();
  if (!i) return undefined;
  // the place and day would locate, for a government, its own citizens who signed there
  const sayWhere = largeEnough && (targetCountry === null || !i.compatriots);
  if (!sayWhere) return { event: '', date: '' };
  return { event: i.event, date: new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(i.collected_on) };
}

/**
 * A threshold's formal request (threshold.service.ts): the action's request to officials, the
 * count reached, and the date to answer by, with the packet link to answer through.
 */
async function renderThresholdRequest(pool: Queryable, l: LetterRow, organisation: string, packet: PacketLinkOptions): Promise<RenderedMail> {
  const t = await thresholdOfLetter(pool, l.id);
  if (!t?.reachedAt) throw new UnrecoverableError(`letter ${l.id} is in a threshold batch without its threshold`);
  const locale = l.text_locale;
  const respondBy = new Date(t.reachedAt.getTime() + t.days * 86_400_000);
  const salutation = letterSalutation({ salutation: l.salutation, title: l.target_title, name: l.target_name });
  return render('threshold-request', locale, {
    subject: l.letter_subject || l.title,
    salutation: normaliseSalutation(salutation),
    greeting: memberGreeting(locale, { salutation, language: l.target_language, title: l.target_title }),
    request: requestText({ locale, title: l.title, officialRequest: l.official_request }),
    // how many have signed when it was reached (at least the threshold): the true count, not the round number
    count: Math.max(t.count, l.total_count),
    totalCount: l.total_count,
    days: t.days,
    respondBy: new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(respondBy),
    organisation,
    packetUrl: packetLink(l.id, l.locale, packet),
  });
}

export async function deliverLetter(deps: LetterDeps, letterId: string): Promise<LetterOutcome> {
  const claimedAt = deps.clock();
  // the claim answers the letter's row for rendering too: one round trip
  const staleBefore = new Date(claimedAt.getTime() - deps.staleSubmittingMs);
  const row = await selectLetterRows(
    qb(deps.pool).with('letter', (db) =>
      db
        .updateTable('letters')
        .set((eb) => ({ status: LetterStatus.SUBMITTING, submitting_at: claimedAt, attempts: eb('attempts', '+', 1) }))
        .where('id', '=', letterId)
        // a due PENDING letter, or a SUBMITTING one whose worker is taken to be dead
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', LetterStatus.PENDING), eb('next_attempt_at', '<=', claimedAt)]),
            eb.and([eb('status', '=', LetterStatus.SUBMITTING), eb('submitting_at', '<', staleBefore)]),
          ]),
        )
        .returningAll(),
    ),
    deps.signerCache !== undefined,
  ).executeTakeFirst();
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
      await fromSubmitting(deps.pool, letterId, { status: LetterStatus.FAILED, last_error: failure.reason });
      throw new UnrecoverableError(`letter refused: ${failure.reason}`);
    }
    const row = await qb(deps.pool).selectFrom('letters').select('attempts').where('id', '=', letterId).executeTakeFirst();
    const attempts = row?.attempts ?? 1;
    if (attempts >= MAX_LETTER_ATTEMPTS) {
      await fromSubmitting(deps.pool, letterId, {
        status: LetterStatus.FAILED,
        last_error: `gave up after ${attempts} attempts: ${failure.reason}`.slice(0, 1000),
      });
      throw new UnrecoverableError(`letter given up after ${attempts} attempts: ${failure.reason}`);
    }
    const delayMs = retryDelayMs(attempts, deps.random);
    await fromSubmitting(deps.pool, letterId, {
      status: LetterStatus.PENDING,
      last_error: failure.reason,
      next_attempt_at: new Date(deps.clock().getTime() + delayMs),
    });
    await deps.queues.enqueueLetters([{ id: letterId, attempts, delayMs }]).catch(() => {
      // the sweeper finds it by next_attempt_at
    });
    return 'retry-scheduled';
  }
}

/** Records the outcome of a letter this worker holds in SUBMITTING (a letter that has moved on is left as it is). */
async function fromSubmitting(db: Queryable, letterId: string, set: Updateable<DB['letters']>): Promise<void> {
  await qb(db).updateTable('letters').set(set).where('id', '=', letterId).where('status', '=', LetterStatus.SUBMITTING).execute();
}

/**
 * How many letters are in each state (every state, 0 included), for the chorus_letters gauge:
 * one grouped count, read when Prometheus scrapes the workers. Letters are digests (one per
 * target per batch), so the table stays small next to the signatures.
 */
export async function lettersByState(pool: Queryable): Promise<Record<LetterStatus, number>> {
  const rows = await qb(pool)
    .selectFrom('letters')
    .select((eb) => ['status', eb.fn.countAll<string>().as('n')])
    .groupBy('status')
    .execute();
  const byState = Object.fromEntries(Object.values(LetterStatus).map((s) => [s, 0])) as Record<LetterStatus, number>;
  for (const r of rows) byState[r.status] = Number(r.n);
  return byState;
}

// The delivery packet: what an official reached through the signed link in a letter sees.
// The letter's summary, counts and countries, every signature the letter speaks for (named
// and placed in a country only where member-letter.ts's rules, mayName and
// countryForOfficial, allow it for THIS target), the members' own letters,
// a CSV and a PDF of the same rows, and a way to answer. No emails, IPs or supporter ids
// ever leave this module.
//
// Opening the packet (JSON, CSV or PDF, and HEAD on them) records letters.opened_at once.
// A link scanner at the official's mail gateway that fetches the link counts as an opening
// too: "opened" means "the link was fetched", not "a person read it".
import { openPaperName, paperSignersOf } from '../action/paper.service.ts';
import { openSigner } from '../privacy/personal-data.ts';
import { existsSync } from 'node:fs';
import { IntlMessageFormat } from 'intl-messageformat';
import { stringify } from 'csv-stringify';
import { sql, type NotNull } from 'kysely';
import { jsonBuildObject } from 'kysely/helpers/postgres';
import type pg from 'pg';
import { z } from 'zod';
import { AnswerStatus, SignatureStatus, TargetMode, inTransaction, qb, type LetterStatus, type Queryable } from '../db/db.ts';
import { countriesForOfficial, mayName, memberLetterLanguage, renderMemberLetter, type OfficialCountries, type SignerForLetter, type SignerGroup } from '../letter/member-letter.ts';
import { requestText } from '../letter/official-text.ts';
import { isLocale } from '../shared/locales.ts';
import { conflict, gone, notFound } from '../shared/errors.ts';
import { documentText } from '../shared/text.ts';
import { localTargetLine, localTargetName } from '../target/target-names.ts';
import { MAX_ATTACHMENTS, attachmentInputSchema, checkAttachment } from './attachment.ts';
import { signToken, verifyToken } from '../shared/tokens.ts';
import { rootHex } from './delivery-roots.ts';
import { ACKNOWLEDGEMENT_MARK } from '../shared/acknowledgement.ts';

export const PACKET_PURPOSE = 'packet';
export const PACKET_TTL_DAYS = 90;
/** An official may answer one letter at most this many times. */
export const MAX_ANSWERS_PER_LETTER = 10;
/** The JSON packet (and the page) lists at most this many signers; the CSV lists them all. */
export const MAX_SIGNERS_IN_JSON = 5_000;
/** The PDF names at most this many signers (the CSV carries all of them). */
const MAX_NAMES_IN_PDF = 2_000;
const MAX_MEMBER_LETTERS = 50;
const PAGE = 1_000;
/**
 * pdfkit fits a word wider than the line one character at a time, at a cost that grows with the
 * square of the word's length (a 19,000-character word took minutes and stalled the server), so
 * words longer than a line could ever hold are cut into line-sized pieces before drawing.
 */
export function breakLongWords(text: string, max = 48): string {
  if (text.length <= max) return text;
  return text.replace(new RegExp(`\\S{${max + 1},}`, 'gu'), (word) => (word.match(new RegExp(`[^]{1,${max}}`, 'gu')) ?? [word]).join('\n'));
}

const DEJAVU = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const DEJAVU_BOLD = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

export interface PacketDeps {
  pool: pg.Pool;
  secret: string;
  clock: () => Date;
  /** PUBLIC_COUNTRY_MIN: the smallest group of unnamed signers whose country an official sees (countryForOfficial) */
  countryMin: number;
  /** ORG_NAME: who sends the letters, named on every page of the PDF */
  organisation?: string;
}

export function packetToken(secret: string, letterId: string, now: Date): string {
  return signToken(secret, PACKET_PURPOSE, letterId, new Date(now.getTime() + PACKET_TTL_DAYS * 86_400_000));
}

/** The page an official opens, in the letter's language. */
export function packetUrl(publicBaseUrl: string, locale: string, token: string): string {
  const base = publicBaseUrl.replace(/\/+$/, '');
  return `${base}${locale && locale !== 'en' ? `/${locale}` : ''}/packet/${token}`;
}

export const answerInputSchema = z.strictObject({
  body: documentText(20_000, 'body'),
  acknowledgeOnly: z.boolean({ error: 'acknowledgeOnly must be true or false' }).optional(),
  attachments: z.array(attachmentInputSchema).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`).optional(),
});
export type AnswerInput = z.infer<typeof answerInputSchema>;

export interface PacketSigner {
  name: string | null;
  country: string | null;
  /** the day only (YYYY-MM-DD): exact times could be matched against network records */
  confirmedAt: string;
}

export interface Packet {
  letter: { id: string; sentAt: string | null; status: LetterStatus; locale: string; signatureCount: number; totalCount: number; subject: string };
  /**
   * What the letter asks of this official, as the letter carries it (letter/official-text.ts),
   * in the language the letter was written in: the action's request to officials, or, where
   * the action has none (`fromTitle`), a neutral sentence built from its title.
   */
  request: { locale: string; text: string; fromTitle: boolean };
  organisation: string;
  action: { slug: string; title: string };
  target: { name: string; title: string; organisation: string };
  /** counts by country as this official may see them (countryForOfficial) */
  countries: { country: string; count: number }[];
  /** signers counted under "country not shown" */
  countryNotShown: number;
  signers: PacketSigner[];
  signersTruncated: boolean;
  memberLetters: { subject: string; text: string; locale: string }[];
  /** the answers already given to this letter (the field keeps the name integrators know) */
  responses: { id: string; body: string; receivedAt: string; status: AnswerStatus; attachments: PacketAttachment[] }[];
  /**
   * What the delivery this letter belongs to commits to (delivery-roots.ts): the root of the
   * Merkle tree of its signatures' receipts, how many they are (across all its letters), and its
   * place in the action's chain; null for a delivery without receipts (paper, a formal request)
   */
  receipts: { root: string; count: number; chain: { index: number; root: string } } | null;
}

/** A file the official attached to an answer: they may download it again from the packet. */
export interface PacketAttachment {
  id: string;
  filename: string;
  contentType: string;
  size: number;
}

/**
 * The letter id a packet link names; throws the same 404/410 as the other emailed links unless
 * `token` is a packet link valid now.
 */
export function checkPacketToken(deps: Pick<PacketDeps, 'secret' | 'clock'>, token: string): string {
  const check = verifyToken(deps.secret, PACKET_PURPOSE, token, deps.clock());
  if (!check.ok) {
    if (check.reason === 'expired') throw gone('link_expired', 'This delivery link has expired; please ask us for a new one');
    throw notFound('invalid_link', 'This delivery link is not valid');
  }
  return check.subject;
}

/** The letter a packet link names, or the same 404/410 as the other emailed links. */
async function letterForToken(deps: PacketDeps, token: string) {
  const letterId = checkPacketToken(deps, token);
  const l = await qb(deps.pool)
    .selectFrom('letters as l')
    .innerJoin('delivery_batches as b', 'b.id', 'l.batch_id')
    .innerJoin('actions as a', 'a.id', 'b.action_id')
    .innerJoin('targets as g', 'g.id', 'l.target_id')
    // the action's text in the letter's language, else in the action's own
    .innerJoinLateral(
      (eb) =>
        eb
          .selectFrom('action_texts as x')
          .select(['x.locale as text_locale', 'x.title', 'x.letter_subject', 'x.official_request'])
          .whereRef('x.action_id', '=', 'a.id')
          // the texts the letter was written in: the same order as the delivery (letter/official-text.ts)
          .orderBy((e) => e.and([e('x.locale', '=', e.ref('l.locale')), e('x.official_request', '<>', '')]), 'desc')
          .orderBy((e) => e.and([e('x.locale', '=', e.ref('a.default_locale')), e('x.official_request', '<>', '')]), 'desc')
          .orderBy((e) => e('x.official_request', '<>', ''), 'desc')
          .orderBy((e) => e('x.locale', '=', e.ref('l.locale')), 'desc')
          .orderBy((e) => e('x.locale', '=', e.ref('a.default_locale')), 'desc')
          .orderBy('x.locale')
          .limit(1)
          .as('t'),
      (join) => join.onTrue(),
    )
    .select((eb) => [
      'l.id',
      'l.batch_id',
      'b.action_id',
      'l.target_id',
      'l.status',
      'l.locale',
      'l.sent_at',
      'l.signature_count',
      'b.total_count',
      'b.tree_root',
      'b.leaf_count',
      'b.chain_root',
      'b.chain_index',
      'a.target_mode',
      'a.slug',
      't.title',
      't.text_locale',
      't.official_request',
      eb.fn.coalesce(eb.fn<string | null>('nullif', ['t.letter_subject', sql.lit('')]), 't.title').as('subject'),
      'g.name as target_name',
      'g.title as target_title',
      'g.organisation as target_organisation',
      'g.country as target_country',
      'g.language as target_language',
      'g.names as target_names',
      'a.default_locale',
      // the subject of each language's text, for a member's own letter in that language
      (e) =>
        e
          .selectFrom('action_texts as z')
          .select(sql<Record<string, string>>`coalesce(jsonb_object_agg(z.locale, coalesce(nullif(z.letter_subject, ''), z.title)), '{}'::jsonb)`.as('subjects'))
          .whereRef('z.action_id', '=', 'a.id')
          .as('text_subjects'),
      'g.name_is_official as target_name_is_official',
      eb.fn.coalesce(eb.fn<string | null>('nullif', ['g.salutation', sql.lit('')]), eb.fn<string | null>('nullif', ['g.title', sql.lit('')]), 'g.name').as('salutation'),
    ])
    .where('l.id', '=', letterId)
    .executeTakeFirst();
  if (!l) throw notFound('invalid_link', 'This delivery link is not valid');
  return l;
}

type LetterRow = Awaited<ReturnType<typeof letterForToken>>;

/** The official as the directory holds them, for target-names.ts. */
function officialRow(l: LetterRow) {
  return { name: l.target_name, title: l.target_title, organisation: l.target_organisation, language: l.target_language, names: l.target_names, nameIsOfficial: l.target_name_is_official };
}

/** The official as the directory names them in the packet's language. */
function officialName(l: LetterRow): { name: string; title: string; organisation: string } {
  const { name, title, organisation } = localTargetName(officialRow(l), l.locale);
  return { name, title, organisation };
}

async function markOpened(deps: PacketDeps, letterId: string): Promise<void> {
  await qb(deps.pool).updateTable('letters').set({ opened_at: deps.clock() }).where('id', '=', letterId).where('opened_at', 'is', null).execute();
}

/** One page of the signatures a letter speaks for (signerPages), after the signature `after`, in id order. */
async function signerPage(pool: pg.Pool, l: LetterRow, after: string, limit: number): Promise<SignerRow[]> {
  const rows = await qb(pool)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select([
      's.id',
      's.supporter_id',
      'p.data_key',
      'p.name',
      's.country',
      's.named_disclosure',
      's.named_to_own_country',
      's.confirmed_at',
      's.letter',
      's.locale',
    ])
    .where('s.batch_id', '=', l.batch_id)
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .$if(l.target_mode === TargetMode.BY_SIGNER_COUNTRY, (q) => q.where('s.country', '=', l.target_country!))
    .where('s.id', '>', after)
    .orderBy('s.id')
    .limit(limit)
    // confirmed signatures have their confirmation time
    .$narrowType<{ confirmed_at: NotNull }>()
    .execute();
  // opened only where they may be shown: the name of a signer who chose to be named, a member's letter
  return rows.map((r) => ({
    id: r.id,
    ...openSigner(r),
    country: r.country,
    named_disclosure: r.named_disclosure,
    named_to_own_country: r.named_to_own_country,
    confirmed_at: r.confirmed_at,
    locale: r.locale,
  }));
}

/** A signer of a letter as the packet reads them: names and letters opened where they may be shown. */
interface SignerRow {
  id: string;
  first_name: string | null;
  last_name: string | null;
  country: string;
  named_disclosure: boolean;
  named_to_own_country: boolean;
  confirmed_at: Date;
  letter_subject: string | null;
  letter_body: string | null;
  locale: string;
}

const toSigner = (r: SignerRow): SignerForLetter => ({
  firstName: r.first_name,
  lastName: r.last_name,
  country: r.country,
  namedDisclosure: r.named_disclosure,
  namedToOwnCountry: r.named_to_own_country,
});

/**
 * The signatures this letter speaks for, in pages: the batch's confirmed signatures, only
 * those from the target's country for a BY_SIGNER_COUNTRY action (as in renderLetter).
 */
async function* signerPages(pool: pg.Pool, l: LetterRow, limit = Number.MAX_SAFE_INTEGER): AsyncGenerator<SignerRow[]> {
  let after = '00000000-0000-0000-0000-000000000000';
  let left = limit;
  while (left > 0) {
    const rows = await signerPage(pool, l, after, Math.min(PAGE, left));
    if (rows.length === 0) break;
    yield rows;
    left -= rows.length;
    after = rows[rows.length - 1]!.id;
    if (rows.length < PAGE) break;
  }
  // then the signatures collected on paper that the delivery carries (action/paper.service.ts)
  after = '00000000-0000-0000-0000-000000000000';
  while (left > 0) {
    const rows = await paperSignersOf(pool, l.batch_id, l.target_country, l.target_mode === TargetMode.BY_SIGNER_COUNTRY)
      .where('p.id', '>', after)
      .orderBy('p.id')
      .limit(Math.min(PAGE, left))
      .execute();
    if (rows.length === 0) return;
    // a paper signature may have no country: SignerRow's country is typed as the signatures' own
    yield rows.map((r) => {
      const name = r.named_disclosure ? openPaperName(r) : { first_name: null, last_name: null };
      // a paper signature may have no country: SignerRow's country is typed as the signatures' own
      return { id: r.id, ...name, country: r.country as string, named_disclosure: r.named_disclosure, named_to_own_country: r.named_to_own_country, confirmed_at: r.confirmed_at, letter_subject: null, letter_body: null, locale: '' };
    });
    left -= rows.length;
    after = rows[rows.length - 1]!.id;
    if (rows.length < PAGE) return;
  }
}

/** One row as this target may see it: the name as mayName allows, the country as the delivery's countryForOfficial does. */
function packetSigner(l: LetterRow, view: OfficialCountries, r: SignerRow): PacketSigner {
  const signer = toSigner(r);
  return {
    name: mayName(l.target_country, signer) ? [r.first_name, r.last_name].filter(Boolean).join(' ') : null,
    country: view.place(signer),
    confirmedAt: r.confirmed_at.toISOString().slice(0, 10),
  };
}

/** Named signers first, then by day, country and name: nothing reveals the order of confirmation within a day. */
function bySafeOrder(a: PacketSigner, b: PacketSigner): number {
  return (
    a.confirmedAt.localeCompare(b.confirmedAt) ||
    Number(a.name === null) - Number(b.name === null) ||
    (a.country ?? '~').localeCompare(b.country ?? '~') ||
    (a.name ?? '').localeCompare(b.name ?? '')
  );
}

/** A member's own letter as this official received it: wholly in the member's language (letter.service.ts). */
function memberLetterOf(l: LetterRow, r: SignerRow): { subject: string; text: string; locale: string } {
  const subjects = l.text_subjects ?? {};
  const locale = memberLetterLanguage(isLocale(r.locale) ? r.locale : null, Object.keys(subjects), l.default_locale);
  const m = renderMemberLetter(
    locale,
    { country: l.target_country, salutation: l.salutation, language: l.target_language, title: l.target_title },
    { subject: r.letter_subject || subjects[locale] || l.subject, body: r.letter_body ?? '' },
    toSigner(r),
  );
  return { subject: m.subject, text: m.text, locale };
}

async function collectSigners(deps: PacketDeps, l: LetterRow, view: OfficialCountries, limit: number) {
  const signers: PacketSigner[] = [];
  const memberLetters: { subject: string; text: string; locale: string }[] = [];
  for await (const page of signerPages(deps.pool, l, limit + 1)) {
    for (const r of page) {
      signers.push(packetSigner(l, view, r));
      if (r.letter_body && memberLetters.length < MAX_MEMBER_LETTERS) memberLetters.push(memberLetterOf(l, r));
    }
  }
  const truncated = signers.length > limit;
  signers.sort(bySafeOrder);
  return { signers: truncated ? signers.slice(0, limit) : signers, truncated, memberLetters };
}

/** The letter's signatures by country and consents, for countriesForOfficial (the same rows signerPages reads). */
export async function signerGroups(db: Queryable, batchId: string, targetCountry: string | null, byCountry: boolean): Promise<SignerGroup[]> {
  // whether a name is stored (sealed: what SQL may know of it)
  const hasName = sql<boolean>`${sql.ref('p.name')} IS NOT NULL`;
  const rows = await qb(db)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select(['s.country', 's.named_disclosure', 's.named_to_own_country', hasName.as('has_name'), sql<number>`count(*)::int`.as('count')])
    .where('s.batch_id', '=', batchId)
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .$if(byCountry, (q) => q.where('s.country', '=', targetCountry!))
    .groupBy(['s.country', 's.named_disclosure', 's.named_to_own_country', hasName])
    .execute();
  // and the delivery's paper signatures (action/paper.service.ts)
  const paper = await qb(db)
    .selectFrom(paperSignersOf(db, batchId, targetCountry, byCountry).as('q'))
    .select(['q.country', 'q.named_disclosure', 'q.named_to_own_country', sql<boolean>`q.name IS NOT NULL`.as('has_name'), sql<number>`count(*)::int`.as('count')])
    .groupBy(['q.country', 'q.named_disclosure', 'q.named_to_own_country', sql`q.name IS NOT NULL`])
    .execute();
  return [...rows, ...paper].map((r) => ({ country: r.country as string, namedDisclosure: r.named_disclosure, namedToOwnCountry: r.named_to_own_country, hasName: r.has_name, count: r.count }));
}

/** Where this letter's official may see its signers (member-letter.ts, countriesForOfficial). */
async function officialView(deps: PacketDeps, l: LetterRow): Promise<OfficialCountries> {
  const groups = await signerGroups(deps.pool, l.batch_id, l.target_country, l.target_mode === TargetMode.BY_SIGNER_COUNTRY);
  return countriesForOfficial(l.target_country, groups, deps.countryMin);
}

export async function viewPacket(deps: PacketDeps, token: string): Promise<Packet> {
  const l = await letterForToken(deps, token);
  await markOpened(deps, l.id);
  const view = await officialView(deps, l);
  const [collected, answers] = await Promise.all([collectSigners(deps, l, view, MAX_SIGNERS_IN_JSON), answersOf(deps.pool, l.id)]);
  return {
    letter: {
      id: l.id,
      sentAt: l.sent_at ? l.sent_at.toISOString() : null,
      status: l.status,
      locale: l.locale,
      signatureCount: l.signature_count,
      totalCount: l.total_count,
      subject: l.subject,
    },
    request: { locale: l.text_locale, text: requestText({ locale: l.text_locale, title: l.title, officialRequest: l.official_request }), fromTitle: l.official_request.trim() === '' },
    organisation: deps.organisation ?? '',
    action: { slug: l.slug, title: l.title },
    target: officialName(l),
    countries: view.countries,
    countryNotShown: view.notShown,
    signers: collected.signers,
    signersTruncated: collected.truncated,
    memberLetters: collected.memberLetters,
    responses: answers,
    receipts: receiptsOf(l),
  };
}

/** What the letter's delivery commits to, as the packet shows it (null: nothing). */
function receiptsOf(l: LetterRow): Packet['receipts'] {
  if (l.tree_root === null || l.leaf_count === null || l.chain_root === null || l.chain_index === null) return null;
  return { root: rootHex(l.tree_root), count: l.leaf_count, chain: { index: l.chain_index, root: rootHex(l.chain_root) } };
}

/** The answers given to a letter, oldest first, each with its attachments (their names and sizes, not their bytes). */
async function answersOf(pool: pg.Pool, letterId: string): Promise<Packet['responses']> {
  const rows = await qb(pool)
    .selectFrom('answers as r')
    .select((eb) => [
      'r.id',
      'r.body',
      'r.received_at',
      'r.status',
      eb
        .selectFrom('answer_attachments as x')
        .select((e) =>
          e.fn
            .jsonAgg(jsonBuildObject({ id: e.ref('x.id'), filename: e.ref('x.filename'), contentType: e.ref('x.content_type'), size: e.ref('x.size') }))
            .orderBy('x.created_at')
            .orderBy('x.filename')
            .as('list'),
        )
        .whereRef('x.answer_id', '=', 'r.id')
        .as('attachments'),
    ])
    .where('r.letter_id', '=', letterId)
    .orderBy('r.received_at')
    .execute();
  return rows.map((r) => ({ id: r.id, body: r.body, receivedAt: r.received_at.toISOString(), status: r.status, attachments: r.attachments ?? [] }));
}

/** A file attached to one of this letter's answers, for the official who sent it (published or not). */
export async function packetAttachment(deps: PacketDeps, token: string, attachmentId: string) {
  const l = await letterForToken(deps, token);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(attachmentId)) throw notFound('attachment_not_found', 'No such attachment');
  const row = await qb(deps.pool)
    .selectFrom('answer_attachments as x')
    .innerJoin('answers as r', 'r.id', 'x.answer_id')
    .select(['x.filename', 'x.content_type as contentType', 'x.data'])
    .where('x.id', '=', attachmentId)
    .where('r.letter_id', '=', l.id)
    .executeTakeFirst();
  if (!row) throw notFound('attachment_not_found', 'No such attachment');
  return row;
}

/** A spreadsheet must never read a cell as a formula. */
export function neutraliseCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** The CSV of the packet's signers, streamed page by page: name,country,confirmed_at. */
export async function packetCsv(deps: PacketDeps, token: string): Promise<{ filename: string; stream: NodeJS.ReadableStream }> {
  const l = await letterForToken(deps, token);
  await markOpened(deps, l.id);
  const view = await officialView(deps, l);
  const csv = stringify({ header: true, columns: ['name', 'country', 'confirmed_at'] });
  void (async () => {
    try {
      for await (const page of signerPages(deps.pool, l)) {
        for (const r of page) {
          const s = packetSigner(l, view, r);
          const ok = csv.write([neutraliseCell(s.name ?? ''), neutraliseCell(s.country ?? ''), neutraliseCell(s.confirmedAt)]);
          if (!ok) await new Promise((resolve) => csv.once('drain', resolve));
        }
      }
      csv.end();
    } catch (err) {
      csv.destroy(err as Error);
    }
  })();
  return { filename: `chorus-delivery-${l.id.slice(0, 8)}.csv`, stream: csv };
}

const PDF_TEXT: Record<string, Record<string, string>> = {
  en: {
    to: 'To',
    from: 'From',
    date: 'Date',
    action: 'Action',
    request: 'Our request',
    count: 'Signatures in this delivery',
    total: 'Signatures in all so far',
    receipts: 'Signatures with a receipt in this delivery',
    root: 'Fingerprint of this delivery (Merkle root)',
    receiptsNote: 'Each of these signers can check with their receipt that their signature is counted under this fingerprint; no signature can be added, removed or changed without changing it.',
    countries: 'Countries of the signers',
    letters: 'Letters written by signers',
    named: 'Signers who asked to be named',
    unnamed: 'Further signers counted without their names, for their safety',
    notShown: 'country not shown',
    more: '{n, plural, one {and # more named signer: see the CSV} other {and # more named signers: see the CSV}}',
    moreLetters: '{n, plural, one {and # more letter: see the packet page} other {and # more letters: see the packet page}}',
    page: 'Page {page} of {pages}',
  },
  es: {
    to: 'Para',
    from: 'De',
    date: 'Fecha',
    action: 'Acción',
    request: 'Nuestra petición',
    count: 'Firmas en esta entrega',
    total: 'Firmas en total hasta ahora',
    receipts: 'Firmas con recibo en esta entrega',
    root: 'Huella de esta entrega (raíz de Merkle)',
    receiptsNote: 'Cada una de estas personas firmantes puede comprobar con su recibo que su firma está contada bajo esta huella; no se puede añadir, quitar ni alterar ninguna firma sin cambiarla.',
    countries: 'Países de quienes firman',
    letters: 'Cartas escritas por personas firmantes',
    named: 'Firmantes que pidieron ser nombrados',
    unnamed: 'Otras personas firmantes contadas sin su nombre, por su seguridad',
    notShown: 'país no indicado',
    more: '{n, plural, one {y # firmante nombrado más: véase el CSV} other {y # firmantes nombrados más: véase el CSV}}',
    moreLetters: '{n, plural, one {y # carta más: véase la página de la entrega} other {y # cartas más: véase la página de la entrega}}',
    page: 'Página {page} de {pages}',
  },
  fr: {
    to: 'À',
    from: 'De',
    date: 'Date',
    action: 'Action',
    request: 'Notre demande',
    count: 'Signatures dans cet envoi',
    total: 'Signatures au total à ce jour',
    receipts: 'Signatures munies d’un reçu dans cet envoi',
    root: 'Empreinte de cet envoi (racine de Merkle)',
    receiptsNote: 'Chacun de ces signataires peut vérifier avec son reçu que sa signature est comptée sous cette empreinte ; aucune signature ne peut être ajoutée, retirée ou modifiée sans la changer.',
    countries: 'Pays des signataires',
    letters: 'Lettres écrites par des signataires',
    named: 'Signataires ayant demandé à être nommés',
    unnamed: 'Autres signataires comptés sans leur nom, pour leur sécurité',
    notShown: 'pays non indiqué',
    more: '{n, plural, one {et # autre signataire nommé : voir le CSV} other {et # autres signataires nommés : voir le CSV}}',
    moreLetters: '{n, plural, one {et # autre lettre : voir la page de l’envoi} other {et # autres lettres : voir la page de l’envoi}}',
    page: 'Page {page} sur {pages}',
  },
  ru: {
    to: 'Кому',
    from: 'От кого',
    date: 'Дата',
    action: 'Акция',
    request: 'Наша просьба',
    count: 'Подписей в этой доставке',
    total: 'Всего подписей на данный момент',
    receipts: 'Подписей с квитанцией в этой доставке',
    root: 'Отпечаток этой доставки (корень Меркла)',
    receiptsNote: 'Каждый из этих подписавших может с помощью своей квитанции проверить, что его подпись учтена под этим отпечатком; ни одну подпись нельзя добавить, удалить или изменить, не изменив его.',
    countries: 'Страны подписавших',
    letters: 'Письма, написанные подписавшими',
    named: 'Подписавшие, которые попросили назвать их имена',
    unnamed: 'Ещё подписавшие, учтённые без имён, ради их безопасности',
    notShown: 'страна не указана',
    more: '{n, plural, one {и ещё # названный подписавший: см. CSV} few {и ещё # названных подписавших: см. CSV} many {и ещё # названных подписавших: см. CSV} other {и ещё # названного подписавшего: см. CSV}}',
    moreLetters: '{n, plural, one {и ещё # письмо: см. страницу доставки} few {и ещё # письма: см. страницу доставки} many {и ещё # писем: см. страницу доставки} other {и ещё # письма: см. страницу доставки}}',
    page: 'Страница {page} из {pages}',
  },
  ar: {
    to: "إلى",
    from: "من",
    date: "التاريخ",
    action: "التحرك",
    request: "طلبنا",
    count: "التوقيعات في هذا التسليم",
    total: "مجموع التوقيعات حتى الآن",
    receipts: "التوقيعات المصحوبة بإيصال في هذا التسليم",
    root: "بصمة هذا التسليم (جذر ميركل)",
    receiptsNote: "يستطيع كل واحد من هؤلاء الموقّعين أن يتحقق بإيصاله من أن توقيعه محسوب ضمن هذه البصمة؛ ولا يمكن إضافة أي توقيع أو حذفه أو تعديله دون أن تتغير.",
    countries: "بلدان الموقّعين",
    letters: "رسائل كتبها الموقّعون",
    named: "الموقّعون الذين طلبوا ذكر أسمائهم",
    unnamed: "موقّعون آخرون احتُسبوا دون ذكر أسمائهم، حفاظًا على سلامتهم",
    notShown: "البلد غير معروض",
    more: "{n, plural, zero {و# موقّع آخر ممن طلبوا ذكر أسمائهم: يُرجى الرجوع إلى ملف CSV} one {وموقّع آخر طلب ذكر اسمه: يُرجى الرجوع إلى ملف CSV} two {وموقّعان آخران طلبا ذكر اسميهما: يُرجى الرجوع إلى ملف CSV} few {و# موقّعين آخرين ممن طلبوا ذكر أسمائهم: يُرجى الرجوع إلى ملف CSV} many {و# موقّعًا آخر ممن طلبوا ذكر أسمائهم: يُرجى الرجوع إلى ملف CSV} other {و# موقّع آخر ممن طلبوا ذكر أسمائهم: يُرجى الرجوع إلى ملف CSV}}",
    moreLetters: "{n, plural, zero {و# رسالة أخرى: يُرجى الرجوع إلى صفحة التسليم} one {ورسالة أخرى: يُرجى الرجوع إلى صفحة التسليم} two {ورسالتان أخريان: يُرجى الرجوع إلى صفحة التسليم} few {و# رسائل أخرى: يُرجى الرجوع إلى صفحة التسليم} many {و# رسالة أخرى: يُرجى الرجوع إلى صفحة التسليم} other {و# رسالة أخرى: يُرجى الرجوع إلى صفحة التسليم}}",
    page: "الصفحة {page} من {pages}",
  },
  kk: {
    to: "Кімге",
    from: "Кімнен",
    date: "Күні",
    action: "Акция",
    request: "Біздің өтінішіміз",
    count: "Осы жөнелтілімдегі қолтаңбалар",
    total: "Осы уақытқа дейінгі барлық қолтаңбалар",
    receipts: "Осы жөнелтілімдегі түбіртегі бар қолтаңбалар",
    root: "Осы жөнелтілімнің цифрлық ізі (Меркл түбірі)",
    receiptsNote: "Осы қол қоюшылардың әрқайсысы өз түбіртегі арқылы өз қолтаңбасының осы ізбен есепке алынғанын тексере алады; бұл ізді өзгертпей ешбір қолтаңбаны қосуға, алып тастауға немесе өзгертуге болмайды.",
    countries: "Қол қоюшылардың елдері",
    letters: "Қол қоюшылар жазған хаттар",
    named: "Аты көрсетілуін сұраған қол қоюшылар",
    unnamed: "Қауіпсіздігі үшін аты аталмай есепке алынған басқа қол қоюшылар",
    notShown: "елі көрсетілмеген",
    more: "{n, plural, one {және аты көрсетілген тағы # қол қоюшы: CSV файлын қараңыз} other {және аты көрсетілген тағы # қол қоюшы: CSV файлын қараңыз}}",
    moreLetters: "{n, plural, one {және тағы # хат: жөнелтілім бетін қараңыз} other {және тағы # хат: жөнелтілім бетін қараңыз}}",
    page: "{page}-бет, барлығы {pages} бет",
  },
  fil: {
    to: "Para sa",
    from: "Mula sa",
    date: "Petsa",
    action: "Aksiyon",
    request: "Ang aming kahilingan",
    count: "Mga lagda sa padalang ito",
    total: "Kabuuang bilang ng lagda sa ngayon",
    receipts: "Mga lagdang may resibo sa padalang ito",
    root: "Fingerprint ng padalang ito (Merkle root)",
    receiptsNote: "Masusuri ng bawat isa sa mga lumagdang ito, gamit ang kanilang resibo, na kabilang ang kanilang lagda sa fingerprint na ito; walang lagdang maidaragdag, maaalis o mababago nang hindi ito nagbabago.",
    countries: "Mga bansa ng mga lumagda",
    letters: "Mga liham na isinulat ng mga lumagda",
    named: "Mga lumagdang humiling na ipakilala sila",
    unnamed: "Iba pang lumagdang binilang nang wala ang kanilang pangalan, para sa kanilang kaligtasan",
    notShown: "hindi ipinakita ang bansa",
    more: "{n, plural, one {at # pang lumagdang nakapangalan: tingnan ang CSV} other {at # pang lumagdang nakapangalan: tingnan ang CSV}}",
    moreLetters: "{n, plural, one {at # pang liham: tingnan ang pahina ng padala} other {at # pang liham: tingnan ang pahina ng padala}}",
    page: "Pahina {page} ng {pages}",
  },
  uz: {
    to: "Kimga",
    from: "Kimdan",
    date: "Sana",
    action: "Aksiya",
    request: "Bizning murojaatimiz",
    count: "Ushbu joʻnatmadagi imzolar",
    total: "Hozirgacha jami imzolar",
    receipts: "Ushbu joʻnatmadagi kvitansiyasi bor imzolar",
    root: "Ushbu joʻnatmaning raqamli izi (Merkl ildizi)",
    receiptsNote: "Bu imzo chekkanlarning har biri oʻz kvitansiyasi orqali imzosi shu iz ostida hisobga olinganini tekshira oladi; bu izni oʻzgartirmasdan birorta ham imzoni qoʻshib, olib tashlab yoki oʻzgartirib boʻlmaydi.",
    countries: "Imzo chekkanlarning mamlakatlari",
    letters: "Imzo chekkanlar yozgan xatlar",
    named: "Ismi koʻrsatilishini soʻragan imzo chekkanlar",
    unnamed: "Xavfsizligi uchun ismlarisiz hisobga olingan boshqa imzo chekkanlar",
    notShown: "mamlakat koʻrsatilmagan",
    more: "{n, plural, one {va yana # nafar ismi koʻrsatilgan imzo chekkan kishi: CSV faylga qarang} other {va yana # nafar ismi koʻrsatilgan imzo chekkan kishi: CSV faylga qarang}}",
    moreLetters: "{n, plural, one {va yana # ta xat: joʻnatma sahifasiga qarang} other {va yana # ta xat: joʻnatma sahifasiga qarang}}",
    page: "{page}-sahifa, jami {pages} sahifa",
  },
};

/** Member letters the PDF carries in full (the packet page carries up to MAX_MEMBER_LETTERS). */
const MAX_LETTERS_IN_PDF = MAX_MEMBER_LETTERS;

/**
 * The PDF of the packet, in the letter's language: what an official who prints it needs in
 * hand. The request the letter made, the counts, the countries (countryForOfficial), the
 * members' own letters, the signers who asked to be named (mayName), and on every page the
 * date, the action, the organisation and "Page n of m".
 */
export async function packetPdf(deps: PacketDeps, token: string): Promise<{ filename: string; pdf: Buffer }> {
  const l = await letterForToken(deps, token);
  await markOpened(deps, l.id);
  const view = await officialView(deps, l);
  const named = { names: [] as string[], more: 0 };
  const regionsOf = new Intl.DisplayNames([l.locale], { type: 'region' });
  const letters: { subject: string; text: string }[] = [];
  let moreLetters = 0;
  for await (const page of signerPages(deps.pool, l)) {
    for (const r of page) {
      const s = packetSigner(l, view, r);
      if (r.letter_body) {
        if (letters.length < MAX_LETTERS_IN_PDF) letters.push(memberLetterOf(l, r));
        else moreLetters++;
      }
      if (s.name === null) continue;
      if (named.names.length < MAX_NAMES_IN_PDF) named.names.push(s.country ? `${s.name} (${regionsOf.of(s.country) ?? s.country})` : s.name);
      else named.more++;
    }
  }
  const locale = l.locale;
  const words = PDF_TEXT[locale] ?? PDF_TEXT.en!;
  const numbers = new Intl.NumberFormat(locale);
  const regions = new Intl.DisplayNames([locale], { type: 'region' });
  const countryLine = [
    ...view.countries.map((c) => `${regions.of(c.country) ?? c.country}: ${numbers.format(c.count)}`),
    ...(view.notShown > 0 ? [`${words.notShown!}: ${numbers.format(view.notShown)}`] : []),
  ].join(', ');
  const date = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(l.sent_at ?? deps.clock());
  const namedCount = named.names.length + named.more;
  const unnamedCount = Math.max(0, l.signature_count - namedCount);
  const target = localTargetLine(officialRow(l), l.locale);
  const organisation = deps.organisation ?? '';
  const request = requestText({ locale: l.text_locale, title: l.title, officialRequest: l.official_request });

  // Helvetica covers Latin-1 only: Cyrillic (ru letters, or any signer's name outside
  // Latin-1) needs an embedded TrueType font. DejaVu Sans covers Latin, Greek and Cyrillic;
  // without it such text cannot render (scripts like Arabic or CJK never do).
  const allText = [l.subject, target, countryLine, l.title, organisation, request, ...named.names, ...letters.flatMap((m) => [m.subject, m.text]), ...Object.values(words)].join('\n');
  const needsUnicode = locale === 'ru' || /[^\u0000-\u00ff]/.test(allText);
  const unicode = needsUnicode && existsSync(DEJAVU);
  // pdfkit (with its font engine) is loaded on the first PDF, not at start: few officials ask
  // for one, and it is several megabytes of heap in every server process that never does
  const { default: PDFDocument } = await import('pdfkit');
  const margin = 56;
  const doc = new PDFDocument({ size: 'A4', margins: { top: margin, left: margin, right: margin, bottom: margin + 24 }, bufferPages: true, info: { Title: l.subject, Author: organisation || 'Chorus' }, lang: locale });
  const regular = unicode ? DEJAVU : 'Helvetica';
  const bold = unicode ? (existsSync(DEJAVU_BOLD) ? DEJAVU_BOLD : DEJAVU) : 'Helvetica-Bold';
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', () => resolve());
    doc.on('error', reject);
  });

  const counted = (message: string, n: number) => new IntlMessageFormat(message, locale).format({ n }) as string;
  const heading = (text: string) => {
    doc.moveDown(0.5);
    doc.font(bold).fontSize(12).text(text);
    doc.moveDown(0.25);
  };
  const line = (label: string, value: string) => {
    doc.font(bold).fontSize(10).text(`${label}: `, { continued: true }).font(regular).text(breakLongWords(value));
  };
  const paragraphs = (text: string) => {
    doc.font(regular).fontSize(10);
    for (const p of text.split(/\n\s*\n/).map((x) => x.trim()).filter(Boolean)) {
      doc.text(breakLongWords(p));
      doc.moveDown(0.5);
    }
  };

  doc.font(bold).fontSize(16).text(breakLongWords(l.subject));
  doc.moveDown(0.5);
  line(words.to!, target);
  if (organisation) line(words.from!, organisation);
  line(words.date!, date);
  line(words.action!, l.title);

  heading(words.request!);
  paragraphs(request);

  line(words.count!, numbers.format(l.signature_count));
  line(words.total!, numbers.format(l.total_count));
  if (countryLine) line(words.countries!, countryLine);
  // what the delivery commits to: the root in groups of eight, to be read and compared on paper
  const receipts = receiptsOf(l);
  if (receipts) {
    line(words.receipts!, numbers.format(receipts.count));
    doc.font(bold).fontSize(10).text(`${words.root!}: `);
    doc.font('Courier').fontSize(10).text(receipts.root.match(/.{8}/g)!.join(' '));
    doc.font(regular).fontSize(9).text(words.receiptsNote!);
  }

  if (letters.length) {
    heading(words.letters!);
    for (const m of letters) {
      doc.font(bold).fontSize(10).text(breakLongWords(m.subject));
      doc.moveDown(0.25);
      paragraphs(m.text);
      doc.moveDown(0.25);
    }
    if (moreLetters) doc.font(regular).fontSize(10).text(counted(words.moreLetters!, moreLetters));
  }
  if (named.names.length) {
    heading(words.named!);
    doc.font(regular).fontSize(10);
    for (const n of named.names) doc.text(`• ${breakLongWords(n)}`);
    if (named.more) doc.text(counted(words.more!, named.more));
  }
  if (unnamedCount) {
    doc.moveDown(0.5);
    doc.font(bold).fontSize(10).text(`${words.unnamed!}: `, { continued: true }).font(regular).text(numbers.format(unnamedCount));
  }

  // on every page: the date, the action, the organisation and "Page n of m"
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const footer = [date, l.title, organisation, words.page!.replace('{page}', numbers.format(i + 1)).replace('{pages}', numbers.format(range.count))]
      .filter(Boolean)
      .join(' · ');
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.font(regular).fontSize(8).text(footer, margin, doc.page.height - margin, { width: doc.page.width - 2 * margin, align: 'center', lineBreak: false, ellipsis: true });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  await done;
  return { filename: `chorus-delivery-${l.id.slice(0, 8)}.pdf`, pdf: Buffer.concat(chunks) };
}

/** An official's answer (or a bare acknowledgement of receipt), kept for staff to review. */
export async function recordAnswer(deps: PacketDeps, token: string, input: AnswerInput): Promise<{ status: 'received' }> {
  const l = await letterForToken(deps, token);
  // checked before anything is written: a refused file refuses the whole answer
  const files = (input.attachments ?? []).map(checkAttachment);
  await inTransaction(deps.pool, async (client) => {
    const db = qb(client);
    // the lock makes the count and the insert one step for concurrent answers to this letter
    await db.selectFrom('letters').select('id').where('id', '=', l.id).forUpdate().execute();
    const given = await db.selectFrom('answers').select(sql<number>`count(*)::int`.as('n')).where('letter_id', '=', l.id).executeTakeFirstOrThrow();
    if (given.n >= MAX_ANSWERS_PER_LETTER) {
      throw conflict('too_many_responses', `This delivery has already been answered ${MAX_ANSWERS_PER_LETTER} times; please write to us directly`);
    }
    // an acknowledgement is marked for the staff who review answers (the table has no flag for it)
    const body = input.acknowledgeOnly ? `${ACKNOWLEDGEMENT_MARK}\n\n${input.body}` : input.body;
    const answer = await db
      .insertInto('answers')
      .values({ action_id: l.action_id, target_id: l.target_id, letter_id: l.id, status: AnswerStatus.RECEIVED, body, received_at: deps.clock() })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (files.length > 0) {
      await db
        .insertInto('answer_attachments')
        .values(files.map((f) => ({ answer_id: answer.id, filename: f.filename, content_type: f.contentType, size: f.data.length, data: f.data, created_at: deps.clock() })))
        .execute();
    }
  });
  return { status: 'received' };
}

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
import { existsSync } from 'node:fs';
import { stringify } from 'csv-stringify';
import { sql, type NotNull } from 'kysely';
import type pg from 'pg';
import { z } from 'zod';
import { AnswerStatus, SignatureStatus, TargetMode, inTransaction, qb, type LetterStatus, type Queryable } from '../db/db.ts';
import { countriesForOfficial, mayName, renderMemberLetter, type OfficialCountries, type SignerForLetter, type SignerGroup } from '../letter/member-letter.ts';
import { conflict, gone, notFound } from '../shared/errors.ts';
import { documentText } from '../shared/text.ts';
import { MAX_ATTACHMENTS, attachmentInputSchema, checkAttachment } from './attachment.ts';
import { signToken, verifyToken } from '../shared/tokens.ts';

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
const DEJAVU = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const DEJAVU_BOLD = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

export interface PacketDeps {
  pool: pg.Pool;
  secret: string;
  clock: () => Date;
  /** PUBLIC_COUNTRY_MIN: the smallest group of unnamed signers whose country an official sees (countryForOfficial) */
  countryMin: number;
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
  action: { slug: string; title: string };
  target: { name: string; title: string; organisation: string };
  /** counts by country as this official may see them (countryForOfficial) */
  countries: { country: string; count: number }[];
  /** signers counted under "country not shown" */
  countryNotShown: number;
  signers: PacketSigner[];
  signersTruncated: boolean;
  memberLetters: { subject: string; text: string }[];
  /** the answers already given to this letter (the field keeps the name integrators know) */
  responses: { body: string; receivedAt: string; status: AnswerStatus }[];
}

/** The letter a packet link names, or the same 404/410 as the other emailed links. */
async function letterForToken(deps: PacketDeps, token: string) {
  const check = verifyToken(deps.secret, PACKET_PURPOSE, token, deps.clock());
  if (!check.ok) {
    if (check.reason === 'expired') throw gone('link_expired', 'This delivery link has expired; please ask us for a new one');
    throw notFound('invalid_link', 'This delivery link is not valid');
  }
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
          .select(['x.title', 'x.letter_subject'])
          .whereRef('x.action_id', '=', 'a.id')
          .orderBy((e) => e('x.locale', '=', e.ref('l.locale')), 'desc')
          .orderBy((e) => e('x.locale', '=', e.ref('a.default_locale')), 'desc')
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
      'a.target_mode',
      'a.slug',
      't.title',
      eb.fn.coalesce(eb.fn<string | null>('nullif', ['t.letter_subject', sql.lit('')]), 't.title').as('subject'),
      'g.name as target_name',
      'g.title as target_title',
      'g.organisation as target_organisation',
      'g.country as target_country',
      eb.fn.coalesce(eb.fn<string | null>('nullif', ['g.salutation', sql.lit('')]), eb.fn<string | null>('nullif', ['g.title', sql.lit('')]), 'g.name').as('salutation'),
    ])
    .where('l.id', '=', check.subject)
    .executeTakeFirst();
  if (!l) throw notFound('invalid_link', 'This delivery link is not valid');
  return l;
}

type LetterRow = Awaited<ReturnType<typeof letterForToken>>;

async function markOpened(deps: PacketDeps, letterId: string): Promise<void> {
  await qb(deps.pool).updateTable('letters').set({ opened_at: deps.clock() }).where('id', '=', letterId).where('opened_at', 'is', null).execute();
}

/** One page of the signatures a letter speaks for (signerPages), after the signature `after`, in id order. */
function signerPage(pool: pg.Pool, l: LetterRow, after: string, limit: number) {
  return qb(pool)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select([
      's.id',
      'p.first_name',
      'p.last_name',
      's.country',
      's.named_disclosure',
      's.named_to_own_country',
      's.confirmed_at',
      's.letter_subject',
      's.letter_body',
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
}

type SignerRow = Awaited<ReturnType<typeof signerPage>>[number];

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
    if (rows.length === 0) return;
    yield rows;
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

async function collectSigners(deps: PacketDeps, l: LetterRow, view: OfficialCountries, limit: number) {
  const signers: PacketSigner[] = [];
  const memberLetters: { subject: string; text: string }[] = [];
  for await (const page of signerPages(deps.pool, l, limit + 1)) {
    for (const r of page) {
      signers.push(packetSigner(l, view, r));
      if (r.letter_body && memberLetters.length < MAX_MEMBER_LETTERS) {
        const m = renderMemberLetter(
          l.locale,
          { country: l.target_country, salutation: l.salutation },
          { subject: r.letter_subject || l.subject, body: r.letter_body },
          toSigner(r),
        );
        memberLetters.push({ subject: m.subject, text: m.text });
      }
    }
  }
  const truncated = signers.length > limit;
  signers.sort(bySafeOrder);
  return { signers: truncated ? signers.slice(0, limit) : signers, truncated, memberLetters };
}

/** The letter's signatures by country and consents, for countriesForOfficial (the same rows signerPages reads). */
export async function signerGroups(db: Queryable, batchId: string, targetCountry: string | null, byCountry: boolean): Promise<SignerGroup[]> {
  const hasName = sql<boolean>`COALESCE(${sql.ref('p.first_name')}, '') <> ''`;
  const rows = await qb(db)
    .selectFrom('signatures as s')
    .innerJoin('supporters as p', 'p.id', 's.supporter_id')
    .select(['s.country', 's.named_disclosure', 's.named_to_own_country', hasName.as('has_name'), sql<number>`count(*)::int`.as('count')])
    .where('s.batch_id', '=', batchId)
    .where('s.status', '=', SignatureStatus.CONFIRMED)
    .$if(byCountry, (q) => q.where('s.country', '=', targetCountry!))
    .groupBy(['s.country', 's.named_disclosure', 's.named_to_own_country', hasName])
    .execute();
  return rows.map((r) => ({ country: r.country, namedDisclosure: r.named_disclosure, namedToOwnCountry: r.named_to_own_country, hasName: r.has_name, count: r.count }));
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
  const [collected, answers] = await Promise.all([
    collectSigners(deps, l, view, MAX_SIGNERS_IN_JSON),
    qb(deps.pool).selectFrom('answers').select(['body', 'received_at', 'status']).where('letter_id', '=', l.id).orderBy('received_at').execute(),
  ]);
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
    action: { slug: l.slug, title: l.title },
    target: { name: l.target_name, title: l.target_title, organisation: l.target_organisation },
    countries: view.countries,
    countryNotShown: view.notShown,
    signers: collected.signers,
    signersTruncated: collected.truncated,
    memberLetters: collected.memberLetters,
    responses: answers.map((r) => ({ body: r.body, receivedAt: r.received_at.toISOString(), status: r.status })),
  };
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
    date: 'Date',
    action: 'Action',
    count: 'Signatures in this delivery',
    total: 'Signatures in all so far',
    countries: 'Countries of the signers',
    named: 'Signers who asked to be named',
    unnamed: 'Further signers counted without their names, for their safety',
    notShown: 'country not shown',
    more: 'and {n} more named signers: see the CSV',
  },
  es: {
    to: 'Para',
    date: 'Fecha',
    action: 'Acción',
    count: 'Firmas en esta entrega',
    total: 'Firmas en total hasta ahora',
    countries: 'Países de quienes firman',
    named: 'Firmantes que pidieron ser nombrados',
    unnamed: 'Otras personas firmantes contadas sin su nombre, por su seguridad',
    notShown: 'país no indicado',
    more: 'y {n} firmantes nombrados más: véase el CSV',
  },
  fr: {
    to: 'À',
    date: 'Date',
    action: 'Action',
    count: 'Signatures dans cet envoi',
    total: 'Signatures au total à ce jour',
    countries: 'Pays des signataires',
    named: 'Signataires ayant demandé à être nommés',
    unnamed: 'Autres signataires comptés sans leur nom, pour leur sécurité',
    notShown: 'pays non indiqué',
    more: 'et {n} autres signataires nommés : voir le CSV',
  },
  ru: {
    to: 'Кому',
    date: 'Дата',
    action: 'Акция',
    count: 'Подписей в этой доставке',
    total: 'Всего подписей на данный момент',
    countries: 'Страны подписавших',
    named: 'Подписавшие, которые попросили назвать их имена',
    unnamed: 'Ещё подписавшие, учтённые без имён, ради их безопасности',
    notShown: 'страна не указана',
    more: 'и ещё {n} названных подписавших: см. CSV',
  },
};

/** The PDF of the packet, in the letter's language. */
export async function packetPdf(deps: PacketDeps, token: string): Promise<{ filename: string; pdf: Buffer }> {
  const l = await letterForToken(deps, token);
  await markOpened(deps, l.id);
  const view = await officialView(deps, l);
  const named = { names: [] as string[], more: 0 };
  for await (const page of signerPages(deps.pool, l)) {
    for (const r of page) {
      const s = packetSigner(l, view, r);
      if (s.name === null) continue;
      if (named.names.length < MAX_NAMES_IN_PDF) named.names.push(s.country ? `${s.name} (${s.country})` : s.name);
      else named.more++;
    }
  }
  const words = PDF_TEXT[l.locale] ?? PDF_TEXT.en!;
  const regions = new Intl.DisplayNames([l.locale], { type: 'region' });
  const countryLine = [
    ...view.countries.map((c) => `${regions.of(c.country) ?? c.country}: ${c.count}`),
    ...(view.notShown > 0 ? [`${words.notShown!}: ${view.notShown}`] : []),
  ].join(', ');
  const date = new Intl.DateTimeFormat(l.locale, { dateStyle: 'long', timeZone: 'UTC' }).format(l.sent_at ?? deps.clock());
  const namedCount = named.names.length + named.more;
  const unnamedCount = Math.max(0, l.signature_count - namedCount);
  const target = [l.target_name, l.target_title, l.target_organisation].filter(Boolean).join(', ');

  // Helvetica covers Latin-1 only: Cyrillic (ru letters, or any signer's name outside
  // Latin-1) needs an embedded TrueType font. DejaVu Sans covers Latin, Greek and Cyrillic;
  // without it such text cannot render (scripts like Arabic or CJK never do).
  const allText = [l.subject, target, countryLine, l.title, ...named.names, ...Object.values(words)].join('\n');
  const needsUnicode = l.locale === 'ru' || /[^\u0000-\u00ff]/.test(allText);
  const unicode = needsUnicode && existsSync(DEJAVU);
  // pdfkit (with its font engine) is loaded on the first PDF, not at start: few officials ask
  // for one, and it is several megabytes of heap in every server process that never does
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({ size: 'A4', margin: 56, info: { Title: l.subject, Author: 'Chorus' }, lang: l.locale });
  const regular = unicode ? DEJAVU : 'Helvetica';
  const bold = unicode ? (existsSync(DEJAVU_BOLD) ? DEJAVU_BOLD : DEJAVU) : 'Helvetica-Bold';
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', () => resolve());
    doc.on('error', reject);
  });

  doc.font(bold).fontSize(16).text(l.subject);
  doc.moveDown(0.5);
  const line = (label: string, value: string) => {
    doc.font(bold).fontSize(10).text(`${label}: `, { continued: true }).font(regular).text(value);
  };
  line(words.to!, target);
  line(words.date!, date);
  line(words.action!, l.title);
  line(words.count!, new Intl.NumberFormat(l.locale).format(l.signature_count));
  line(words.total!, new Intl.NumberFormat(l.locale).format(l.total_count));
  if (countryLine) line(words.countries!, countryLine);
  doc.moveDown();
  if (named.names.length) {
    doc.font(bold).fontSize(12).text(words.named!);
    doc.font(regular).fontSize(10);
    for (const n of named.names) doc.text(`• ${n}`);
    if (named.more) doc.text(words.more!.replace('{n}', String(named.more)));
    doc.moveDown();
  }
  if (unnamedCount) doc.font(bold).fontSize(10).text(`${words.unnamed!}: `, { continued: true }).font(regular).text(String(unnamedCount));
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
    const body = input.acknowledgeOnly ? `[acknowledgement of receipt]\n\n${input.body}` : input.body;
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

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
import type pg from 'pg';
import { z } from 'zod';
import { countriesForOfficial, mayName, renderMemberLetter, type OfficialCountries, type SignerForLetter, type SignerGroup } from '../letter/member-letter.ts';
import { conflict, gone, notFound } from '../shared/errors.ts';
import { blockText } from '../shared/text.ts';
import { MAX_ATTACHMENTS, attachmentInputSchema, checkAttachment } from './attachment.ts';
import { signToken, verifyToken } from '../shared/tokens.ts';

export const PACKET_PURPOSE = 'packet';
export const PACKET_TTL_DAYS = 90;
/** An official may answer one letter at most this many times. */
export const MAX_RESPONSES_PER_LETTER = 10;
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

export const responseInputSchema = z.strictObject({
  body: blockText(20_000, 'body').refine((s) => s.length > 0, 'body is required'),
  acknowledgeOnly: z.boolean({ error: 'acknowledgeOnly must be true or false' }).optional(),
  attachments: z.array(attachmentInputSchema).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`).optional(),
});
export type ResponseInput = z.infer<typeof responseInputSchema>;

export interface PacketSigner {
  name: string | null;
  country: string | null;
  /** the day only (YYYY-MM-DD): exact times could be matched against network records */
  confirmedAt: string;
}

export interface Packet {
  letter: { id: string; sentAt: string | null; status: string; locale: string; signatureCount: number; totalCount: number; subject: string };
  action: { slug: string; title: string };
  target: { name: string; title: string; organisation: string };
  /** counts by country as this official may see them (countryForOfficial) */
  countries: { country: string; count: number }[];
  /** signers counted under "country not shown" */
  countryNotShown: number;
  signers: PacketSigner[];
  signersTruncated: boolean;
  memberLetters: { subject: string; text: string }[];
  responses: { body: string; receivedAt: string; status: string }[];
}

interface LetterRow {
  id: string;
  batch_id: string;
  action_id: string;
  target_id: string;
  status: string;
  locale: string;
  sent_at: Date | null;
  signature_count: number;
  total_count: number;
  target_mode: string;
  slug: string;
  title: string;
  subject: string;
  target_name: string;
  target_title: string;
  target_organisation: string;
  target_country: string | null;
  salutation: string;
}

/** The letter a packet link names, or the same 404/410 as the other emailed links. */
async function letterForToken(deps: PacketDeps, token: string): Promise<LetterRow> {
  const check = verifyToken(deps.secret, PACKET_PURPOSE, token, deps.clock());
  if (!check.ok) {
    if (check.reason === 'expired') throw gone('link_expired', 'This delivery link has expired; please ask us for a new one');
    throw notFound('invalid_link', 'This delivery link is not valid');
  }
  const { rows } = await deps.pool.query<LetterRow>(
    `SELECT l.id, l.batch_id, b.action_id, l.target_id, l.status, l.locale, l.sent_at, l.signature_count, b.total_count,
            a.target_mode, a.slug, t.title, COALESCE(NULLIF(t.letter_subject, ''), t.title) AS subject,
            g.name AS target_name, g.title AS target_title, g.organisation AS target_organisation, g.country AS target_country,
            COALESCE(NULLIF(g.salutation, ''), NULLIF(g.title, ''), g.name) AS salutation
     FROM letters l
     JOIN delivery_batches b ON b.id = l.batch_id
     JOIN actions a ON a.id = b.action_id
     JOIN targets g ON g.id = l.target_id
     JOIN LATERAL (SELECT * FROM action_texts x WHERE x.action_id = a.id
                   ORDER BY (x.locale = l.locale) DESC, (x.locale = a.default_locale) DESC LIMIT 1) t ON true
     WHERE l.id = $1`,
    [check.subject],
  );
  const l = rows[0];
  if (!l) throw notFound('invalid_link', 'This delivery link is not valid');
  return l;
}

async function markOpened(deps: PacketDeps, letterId: string): Promise<void> {
  await deps.pool.query(`UPDATE letters SET opened_at = $2 WHERE id = $1 AND opened_at IS NULL`, [letterId, deps.clock()]);
}

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
    const { rows } = await pool.query<SignerRow>(
      `SELECT s.id, p.first_name, p.last_name, s.country, s.named_disclosure, s.named_to_own_country, s.confirmed_at,
              s.letter_subject, s.letter_body
       FROM signatures s JOIN supporters p ON p.id = s.supporter_id
       WHERE s.batch_id = $1 AND s.status = 'CONFIRMED' AND (NOT $3::bool OR s.country = $2) AND s.id > $4
       ORDER BY s.id LIMIT $5`,
      [l.batch_id, l.target_country, l.target_mode === 'BY_SIGNER_COUNTRY', after, Math.min(PAGE, left)],
    );
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
export async function signerGroups(pool: pg.Pool | pg.PoolClient, batchId: string, targetCountry: string | null, byCountry: boolean): Promise<SignerGroup[]> {
  const { rows } = await pool.query<{ country: string; named_disclosure: boolean; named_to_own_country: boolean; has_name: boolean; count: number }>(
    `SELECT s.country, s.named_disclosure, s.named_to_own_country, COALESCE(p.first_name, '') <> '' AS has_name, count(*)::int AS count
     FROM signatures s JOIN supporters p ON p.id = s.supporter_id
     WHERE s.batch_id = $1 AND s.status = 'CONFIRMED' AND (NOT $3::bool OR s.country = $2)
     GROUP BY 1, 2, 3, 4`,
    [batchId, targetCountry, byCountry],
  );
  return rows.map((r) => ({ country: r.country, namedDisclosure: r.named_disclosure, namedToOwnCountry: r.named_to_own_country, hasName: r.has_name, count: r.count }));
}

/** Where this letter's official may see its signers (member-letter.ts, countriesForOfficial). */
async function officialView(deps: PacketDeps, l: LetterRow): Promise<OfficialCountries> {
  const groups = await signerGroups(deps.pool, l.batch_id, l.target_country, l.target_mode === 'BY_SIGNER_COUNTRY');
  return countriesForOfficial(l.target_country, groups, deps.countryMin);
}

export async function viewPacket(deps: PacketDeps, token: string): Promise<Packet> {
  const l = await letterForToken(deps, token);
  await markOpened(deps, l.id);
  const view = await officialView(deps, l);
  const [collected, responses] = await Promise.all([
    collectSigners(deps, l, view, MAX_SIGNERS_IN_JSON),
    deps.pool.query<{ body: string; received_at: Date; status: string }>(
      `SELECT body, received_at, status FROM responses WHERE letter_id = $1 ORDER BY received_at`,
      [l.id],
    ),
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
    responses: responses.rows.map((r) => ({ body: r.body, receivedAt: r.received_at.toISOString(), status: r.status })),
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
export async function recordResponse(deps: PacketDeps, token: string, input: ResponseInput): Promise<{ status: 'received' }> {
  const l = await letterForToken(deps, token);
  // checked before anything is written: a refused file refuses the whole answer
  const files = (input.attachments ?? []).map(checkAttachment);
  const client = await deps.pool.connect();
  try {
    await client.query('BEGIN');
    // the lock makes the count and the insert one step for concurrent answers to this letter
    await client.query(`SELECT id FROM letters WHERE id = $1 FOR UPDATE`, [l.id]);
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM responses WHERE letter_id = $1`, [l.id]);
    if ((rows[0]?.n ?? 0) >= MAX_RESPONSES_PER_LETTER) {
      throw conflict('too_many_responses', `This delivery has already been answered ${MAX_RESPONSES_PER_LETTER} times; please write to us directly`);
    }
    // an acknowledgement is marked for the staff who review answers (the table has no flag for it)
    const body = input.acknowledgeOnly ? `[acknowledgement of receipt]\n\n${input.body}` : input.body;
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO responses (action_id, target_id, letter_id, status, body, received_at) VALUES ($1, $2, $3, 'RECEIVED', $4, $5) RETURNING id`,
      [l.action_id, l.target_id, l.id, body, deps.clock()],
    );
    for (const f of files) {
      await client.query(
        `INSERT INTO response_attachments (response_id, filename, content_type, size, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [inserted.rows[0]!.id, f.filename, f.contentType, f.data.length, f.data, deps.clock()],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  return { status: 'received' };
}

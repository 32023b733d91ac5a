// Promise 5: nothing an official receives (letter, packet page, PDF, CSV, counts by country)
// locates an unnamed signer in the official's own country.
//
// Tried as an official of Tuvalu would: read the letter in each of the four languages, open the
// packet, download its CSV and PDF, and compare a delivery that carries one unnamed compatriot
// with one that carries one unnamed foreigner instead. If anything the official receives tells
// the two apart, "country not shown" means "from your own country" and the promise is broken.
// A signer who chose to be named even to their own country's officials may be located.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBatch } from '../../server/src/delivery/batch.service.ts';
import { deliverLetter } from '../../server/src/letter/letter.service.ts';
import type { Mailer } from '../../server/src/mail/mailer.ts';
import type { Mailbox } from '../../server/src/mailbox/mailbox.service.ts';
import { confirmSignatures, createAction, createHarness, signBody, uniqueEmail, type Harness, startTestMail } from '../../server/src/testing/harness.ts';
import { indexOfEmail } from '../../server/src/testing/sealed.ts';

const MIN = 3;
const LOCALES = ['en', 'es', 'fr', 'ru'] as const;
const HOME = 'TV';
/** every way the official's country could be written in what they receive */
const HOME_WORDS = [...new Set(LOCALES.map((l) => new Intl.DisplayNames([l], { type: 'region' }).of(HOME)!))];
const NOT_SHOWN_IN_LETTER: Record<(typeof LOCALES)[number], string> = {
  en: 'For 1 signer, the country is not shown.',
  es: 'De 1 persona firmante no se indica el país.',
  fr: 'Pour 1 signataire, le pays n’est pas indiqué.',
  ru: 'У 1 подписавшего страна не указана.',
};

let h: Harness;
let mailbox: Mailbox;
let mailer: Mailer;
const queues = { enqueueLetters: async () => {} };

beforeAll(async () => {
  h = await createHarness({ env: { PUBLIC_COUNTRY_MIN: String(MIN) } });
  ({ mailbox, mailer } = await startTestMail());
});
afterAll(async () => {
  mailer?.close();
  await mailbox?.close();
  await h?.close();
});

interface Received {
  locale: string;
  text: string;
  html: string;
  packet: Record<string, unknown> & { countries: { country: string; count: number }[]; countryNotShown: number; signers: { name: string | null; country: string | null }[] };
  csv: string;
  pdfText: string;
}

/** The text of a PDF as an official's reader shows it (poppler's pdftotext, any script). */
function pdfText(pdf: Buffer): string {
  return execFileSync('pdftotext', ['-enc', 'UTF-8', '-', '-'], { input: pdf, encoding: 'utf8' });
}

/** An action to four officials of Tuvalu (one per language), signed by `signers`, delivered; what each official receives. */
async function deliver(signers: Record<string, unknown>[]): Promise<{ received: Received[]; strip: (s: string) => string }> {
  const fx = await createAction(h.db, {
    kind: 'LETTER',
    locales: [...LOCALES],
    targets: LOCALES.map((language) => ({ country: HOME, language })),
  });
  await h.cache.refresh();
  for (const body of signers) {
    const email = uniqueEmail('signer');
    const res = await h.app.inject({ method: 'POST', url: `/api/actions/${fx.action.slug}/signatures`, payload: signBody({ ...body, email }) });
    expect(res.statusCode).toBe(202);
    // confirmed as the owner's button does (the sign-up's name, country and consents become hers)
    await confirmSignatures(h.db.pool, `p.email_index = $1 AND s.action_id = $2`, [indexOfEmail(email), fx.action.id]);
  }
  const built = await buildBatch({ pool: h.db.pool, queues, mailDomain: 'chorus.example.org', countryMin: h.config.PUBLIC_COUNTRY_MIN }, fx.action.id, 'test');
  expect(built).toMatchObject({ signatureCount: signers.length });
  const letters = await h.db.pool.query<{ id: string; target_id: string }>(`SELECT id, target_id FROM letters WHERE batch_id = $1`, [built!.batchId]);
  const received: Received[] = [];
  for (const [i, locale] of LOCALES.entries()) {
    const target = fx.targets[i]!;
    const letterId = letters.rows.find((l) => l.target_id === target.id)!.id;
    const outcome = await deliverLetter(
      {
        pool: h.db.pool,
        mailer,
        mailFrom: 'Chorus <actions@chorus.example.org>',
        organisation: 'Chorus Test',
        staleSubmittingMs: 60_000,
        clock: () => new Date(),
        queues,
        random: () => 1,
        packetSecret: h.secret,
        publicBaseUrl: 'http://chorus.test',
        countryMin: MIN,
      },
      letterId,
    );
    expect(outcome).toBe('sent');
    const mail = mailbox.messages().find((m) => m.envelope.to[0] === target.email)!;
    // the official follows the link in the letter
    const token = /\/packet\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]{32})/.exec(mail.text ?? '')![1]!;
    const packet = await h.app.inject({ url: `/api/packets/${token}` });
    expect(packet.statusCode).toBe(200);
    const csv = await h.app.inject({ url: `/api/packets/${token}/packet.csv` });
    expect(csv.statusCode).toBe(200);
    const pdf = await h.app.inject({ url: `/api/packets/${token}/packet.pdf` });
    expect(pdf.statusCode).toBe(200);
    received.push({ locale, text: mail.text ?? '', html: mail.html || '', packet: packet.json(), csv: csv.body, pdfText: pdfText(pdf.rawPayload) });
  }
  // what differs between two deliveries whatever their signers: ids, links, names of the action and targets, dates
  const variable = [fx.action.slug, ...fx.targets.map((t) => t.name), ...letters.rows.map((l) => l.id), ...letters.rows.map((l) => l.id.slice(0, 8))];
  const strip = (s: string) => {
    let out = s.replace(/\/packet\/[A-Za-z0-9_.-]+/g, '/packet/TOKEN').replace(/<[^>@\s]+@[^>\s]+>/g, '<MESSAGE-ID>');
    for (const v of variable) out = out.split(v).join('X');
    return out
      // what the delivery commits to (its tree root, its chain root): a hash of its own signatures' receipts
      .replace(/[0-9a-f]{8}(?:\s+[0-9a-f]{8}){7}/g, 'ROOT')
      .replace(/[0-9a-f]{64}/g, 'ROOT')
      .replace(/\d{4}-\d{2}-\d{2}(T[\d:.]+Z)?/g, 'DATE')
      .replace(/"sentAt":"[^"]*"/g, '"sentAt":"DATE"');
  };
  return { received, strip };
}

/**
 * Everything one official received, as one comparable text. The CSV streams its rows in the
 * order of the signatures' random ids, which says nothing about anyone: its rows are compared
 * as a set.
 */
function everything(r: Received, strip: (s: string) => string): string {
  const [header, ...rows] = r.csv.trim().split('\n');
  const csv = [header, ...rows.sort()].join('\n');
  return strip([r.text, r.html, JSON.stringify(r.packet), csv, r.pdfText].join('\n----\n'));
}

describe('promise 5: nothing an official receives locates an unnamed signer in the official’s own country', () => {
  let compatriot: Awaited<ReturnType<typeof deliver>>;
  let foreigner: Awaited<ReturnType<typeof deliver>>;

  beforeAll(async () => {
    // a Tuvaluan who lets officials of other countries see her name, but not her own government's
    compatriot = await deliver([{ firstName: 'Hidden', lastName: 'AtHome', country: HOME, consentNamed: true }]);
    // ... and in her place a Kazakh signer who asked not to be named
    foreigner = await deliver([{ firstName: 'Quiet', lastName: 'Abroad', country: 'KZ', consentNamed: false }]);
  });

  it('a letter of one unnamed compatriot names neither her nor her country, in all four languages', () => {
    for (const r of compatriot.received) {
      for (const word of HOME_WORDS) {
        expect(r.text, `${r.locale} letter`).not.toContain(word);
        expect(r.html, `${r.locale} letter`).not.toContain(word);
      }
      expect(r.text).not.toContain('Hidden');
      expect(r.text, `${r.locale} letter`).toContain(NOT_SHOWN_IN_LETTER[r.locale as (typeof LOCALES)[number]]);
    }
  });

  it('the packet, its CSV and its PDF count her under "country not shown", never under Tuvalu', () => {
    for (const r of compatriot.received) {
      expect(r.packet.countries).toEqual([]);
      expect(r.packet.countryNotShown).toBe(1);
      expect(r.packet.signers).toEqual([{ name: null, country: null, confirmedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }]);
      expect(JSON.stringify(r.packet)).not.toMatch(new RegExp(`"${HOME}"|Hidden|AtHome`));
      expect(r.csv.trim().split('\n')).toEqual(['name,country,confirmed_at', expect.stringMatching(/^,,\d{4}-\d{2}-\d{2}$/)]);
      for (const word of HOME_WORDS) expect(r.pdfText, `${r.locale} PDF`).not.toContain(word);
      expect(r.pdfText, `${r.locale} PDF`).not.toContain('Hidden');
    }
    // every PDF was read, the Russian one (with its embedded font) too
    expect(compatriot.received.map((r) => [r.locale, r.pdfText.length > 100])).toEqual(LOCALES.map((l) => [l, true]));
    expect(compatriot.received[0]!.pdfText).toContain('country not shown: 1');
  });

  it('tells the official nothing that a lone unnamed foreigner would not have told them', () => {
    for (const [i, r] of compatriot.received.entries()) {
      expect(everything(r, compatriot.strip), r.locale).toBe(everything(foreigner.received[i]!, foreigner.strip));
    }
  });

  it('nor among foreigners: a compatriot reads like one signer from a country with too few to be shown', async () => {
    const crowd = Array.from({ length: MIN }, (_, i) => ({ firstName: `Fr${i}`, lastName: 'Crowd', country: 'FR' }));
    const withCompatriot = await deliver([...crowd, { firstName: 'Hidden', lastName: 'AtHome', country: HOME }]);
    const withForeigner = await deliver([...crowd, { firstName: 'Lone', lastName: 'Abroad', country: 'PH' }]);
    for (const [i, r] of withCompatriot.received.entries()) {
      expect(r.packet.countries).toEqual([{ country: 'FR', count: MIN }]);
      expect(r.packet.countryNotShown).toBe(1);
      expect(r.packet.signers.filter((s) => s.country === 'FR')).toHaveLength(MIN);
      expect(everything(r, withCompatriot.strip), r.locale).toBe(everything(withForeigner.received[i]!, withForeigner.strip));
    }
  });

  it('locates a compatriot who chose to be named even to her own government', async () => {
    const brave = await deliver([{ firstName: 'Brave', lastName: 'AtHome', country: HOME, consentNamed: true, consentNamedToOwnCountry: true }]);
    for (const r of brave.received) {
      const home = new Intl.DisplayNames([r.locale], { type: 'region' }).of(HOME)!;
      expect(r.text).toContain('Brave AtHome');
      expect(r.text).toContain(home);
      expect(r.packet.countries).toEqual([{ country: HOME, count: 1 }]);
      expect(r.packet.countryNotShown).toBe(0);
      expect(r.packet.signers).toEqual([{ name: 'Brave AtHome', country: HOME, confirmedAt: expect.any(String) }]);
      expect(r.csv).toContain(`Brave AtHome,${HOME},`);
    }
  });
});

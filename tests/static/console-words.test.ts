// The console's words that are not in the catalogue's sentences: moments (one function, the same
// zone said the same way), language names (in the sentence's language, capitalised only where
// they start), the audit log's fields and values (labels and words, raw only for free text),
// and where the language switch may send staff back to. The console's pages are read for any
// date formatted outside web/src/lib/admin/time.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { targetView } from '../../server/src/target/target.schema.ts';
import { auditLines, auditRecordName, auditValue, fieldLabel, hasFieldLabel } from '../../web/src/lib/admin/audit.ts';
import { consoleReturnPath } from '../../web/src/lib/admin/console-locale.ts';
import { capitalise, languageName, midSentence } from '../../web/src/lib/admin/language.ts';
import { consoleTime } from '../../web/src/lib/admin/time.ts';

const ROOT = join(import.meta.dirname, '../..');
const LOCALES = ['en', 'es', 'fr', 'ru'] as const;
const AT = '2026-11-28T19:06:00.000Z';

describe('console moments', () => {
  it('writes a moment in the reader’s language, in UTC, saying UTC the same way in every language', () => {
    expect(consoleTime('en', AT)).toBe('Nov 28, 2026, 7:06 PM UTC');
    expect(consoleTime('es', AT)).toBe('28 nov 2026, 19:06 UTC');
    expect(consoleTime('fr', AT)).toBe('28 nov. 2026, 19:06 UTC');
    expect(consoleTime('ru', AT)).toBe('28 нояб. 2026 г., 19:06 UTC');
    for (const l of LOCALES) {
      expect(consoleTime(l, AT, 'time')).toMatch(/^(7:06\sPM|19:06) UTC$/);
      expect(consoleTime(l, AT, 'date')).not.toMatch(/UTC|19|7:06/);
      expect(consoleTime(l, new Date(AT))).toBe(consoleTime(l, AT));
    }
    // a moment just before midnight UTC is that day, whatever the server's zone
    expect(consoleTime('en', '2026-11-28T23:59:00Z', 'date')).toBe('Nov 28, 2026');
  });

  it('writes nothing for a missing or broken moment', () => {
    for (const v of [null, undefined, '', 'not a date']) expect(consoleTime('en', v)).toBe('');
  });

  it('is the only way a console page writes a date or a time', () => {
    const dirs = ['web/src/routes/admin', 'web/src/lib/admin', 'web/src/lib/components/admin', 'web/src/lib/i18n/admin'];
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir)).flatMap((name) => {
        const path = join(dir, name);
        if (statSync(join(ROOT, path)).isDirectory()) return walk(path);
        return /\.(ts|svelte)$/.test(name) ? [path] : [];
      });
    const files = dirs.flatMap(walk);
    expect(files.length).toBeGreaterThan(40);
    const own = [
      [/Intl\.DateTimeFormat|Intl\.RelativeTimeFormat/, 'an Intl date format'],
      [/\.toLocale(Date|Time)?String\(/, 'toLocaleString'],
      [/toISOString\(\)\s*\.\s*(slice|substring|substr|replace)\(/, 'a cut ISO string'],
      [/getUTC(Hours|Minutes|Date|Month|FullYear)\(|getHours\(|getMinutes\(/, 'its own clock arithmetic'],
      [/from '\$lib\/dates'/, 'the member pages’ date functions'],
    ] as const;
    const found: string[] = [];
    for (const file of files) {
      if (file === 'web/src/lib/admin/time.ts') continue;
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [re, what] of own) if (re.test(text)) found.push(`${relative(ROOT, join(ROOT, file))}: ${what}`);
    }
    expect(found).toEqual([]);
  });
});

describe('language names', () => {
  it('are written in the sentence’s language, lower-case where it writes them so', () => {
    expect(languageName('es', 'en')).toBe('inglés');
    expect(languageName('fr', 'es')).toBe('espagnol');
    expect(languageName('ru', 'fr')).toBe('французский');
    expect(languageName('en', 'ru')).toBe('Russian');
  });

  it('are capitalised, by the language’s own rules, only where they start a line or a label', () => {
    expect(languageName('es', 'en', { start: true })).toBe('Inglés');
    expect(languageName('ru', 'es', { start: true })).toBe('Испанский');
    expect(capitalise('tr' as 'en', 'istanbul')).toBe('İstanbul');
    expect(capitalise('en', '')).toBe('');
  });

  it('a record’s kind reads in lower case inside a sentence, but an abbreviation keeps its capitals', () => {
    expect(midSentence('es', 'Cuenta del personal')).toBe('cuenta del personal');
    expect(midSentence('ru', 'Действие')).toBe('действие');
    expect(midSentence('en', 'API key')).toBe('API key');
    expect(midSentence('en', '')).toBe('');
  });

  it('fall back to the code for a language Intl does not name', () => {
    expect(languageName('es', 'not a tag')).toBe('not a tag');
  });
});

describe('the audit log in words', () => {
  it('says an answer’s publication with the field’s label and the status’s word, never the codes', () => {
    const entry = {
      entity: 'answer',
      before: { status: 'RECEIVED', publicSummary: null },
      after: { status: 'PUBLISHED', publicSummary: 'They will reply', notificationsOwed: 1234 },
    };
    expect(auditLines('es', entry)).toEqual([
      { field: 'status', label: 'Estado', before: 'Pendiente de revisión', after: 'Publicada' },
      { field: 'publicSummary', label: 'Resumen público', before: '(vacío)', after: 'They will reply' },
      { field: 'notificationsOwed', label: 'Firmantes por avisar', value: '1234' },
    ]);
    const ru = auditLines('ru', entry)
      .map(({ field: _field, ...words }) => Object.values(words).join(' '))
      .join('\n');
    expect(ru).toContain('Опубликован');
    expect(ru).not.toMatch(/RECEIVED|PUBLISHED|notificationsOwed|publicSummary/);
  });

  it('translates booleans, dates, languages, countries, enumerations and lists; keeps what people typed', () => {
    expect(auditValue('es', 'target', 'disabled', true)).toBe('sí');
    expect(auditValue('fr', 'queue', 'paused', false)).toBe('non');
    expect(auditValue('es', 'api_key', 'revokedAt', AT)).toBe('28 nov 2026, 19:06 UTC');
    expect(auditValue('ru', 'action', 'defaultLocale', 'es')).toBe('испанский');
    expect(auditValue('es', 'target', 'country', 'MX')).toBe('México');
    expect(auditValue('es', 'target', 'kind', 'PROSECUTOR')).not.toBe('PROSECUTOR');
    expect(auditValue('es', 'action', 'kind', 'LETTER')).toBe('Carta');
    expect(auditValue('es', 'action', 'targetMode', 'FIXED')).not.toBe('FIXED');
    expect(auditValue('es', 'action', 'policy', 'EVERY_N')).not.toMatch(/EVERY_N/);
    expect(auditValue('es', 'letter', 'status', 'FAILED')).not.toBe('FAILED');
    expect(auditValue('es', 'staff_user', 'role', 'VIEWER')).not.toBe('VIEWER');
    expect(auditValue('es', 'export', 'status', 'CONFIRMED', { kind: 'SIGNATURES' })).toBe('Confirmada');
    expect(auditValue('en', 'action', 'targetIds', ['a', 'b', 'c'])).toBe('3 records');
    expect(auditValue('ru', 'action', 'targetIds', ['a', 'b'])).toBe('2 записи');
    expect(auditValue('es', 'action', 'texts', [{ locale: 'en', title: 'T' }, { locale: 'fr', title: 'T' }])).toBe('inglés, francés');
    expect(auditValue('es', 'action', 'milestones', [1000, 5000])).toBe('1000, 5000');
    expect(auditValue('es', 'letter', 'lastError', '550 mailbox unavailable')).toBe('550 mailbox unavailable');
    expect(auditValue('es', 'action', 'replyTo', '')).toBe('(vacío)');
  });

  it('writes a fraud search’s criteria in words, the signature statuses among them', () => {
    const line = auditValue('es', 'action', 'filter', { actionId: 'x', ipTyped: true, status: 'PENDING', from: AT });
    expect(line).toContain('Se indicó una dirección IP: sí');
    expect(line).toContain('Desde: 28 nov 2026, 19:06 UTC');
    expect(line).not.toMatch(/PENDING|ipTyped/);
  });

  it('names an action by its title in the console’s language, else its default language', () => {
    const texts = [
      { locale: 'en', title: 'Forensics now' },
      { locale: 'es', title: 'Peritajes ya' },
    ];
    expect(auditRecordName('es', { entity: 'action', before: null, after: { slug: 's', defaultLocale: 'en', texts } })).toBe('Peritajes ya');
    expect(auditRecordName('ru', { entity: 'action', before: null, after: { slug: 's', defaultLocale: 'en', texts } })).toBe('Forensics now');
    expect(auditRecordName('ru', { entity: 'target', before: null, after: { name: 'Fiscalía' } })).toBe('Fiscalía');
  });

  it('has a label in every language for every field the server audits', () => {
    const { actions: _a, updatedAt: _u, ...targetFields } = targetView.shape;
    const fields = [
      // actions (action.admin.service.ts auditView), delivery (delivery-admin.service.ts), answers, letters
      ...['slug', 'kind', 'status', 'defaultLocale', 'goal', 'milestones', 'signingEnabled', 'targetMode', 'allowPersonalisation', 'maxLetterLength', 'replyTo', 'texts', 'targetIds'],
      ...['policy', 'everyN', 'paused', 'batchId', 'signatureCount', 'letters', 'attempts', 'lastError', 'publicSummary', 'notificationsOwed', 'apiKey'],
      // API keys, webhooks, exports, fraud and the wall, staff accounts and sign-in
      ...['name', 'prefix', 'scopes', 'rateLimitPerMinute', 'revokedAt', 'url', 'events', 'disabledAt'],
      ...['actionId', 'from', 'to', 'country', 'includePersonal', 'emailsWithoutConsent', 'reason', 'rows'],
      ...['filter', 'asOf', 'matched', 'shown', 'invalidated', 'uncounted', 'wallHiddenAt', 'ipTyped', 'networkTyped', 'ipHash', 'netHash', 'emailDomain', 'namePattern'],
      ...['email', 'role', 'totpEnabled', 'disabled', 'twoStep'],
      ...Object.keys(targetFields),
    ];
    const missing = fields.filter((f) => !hasFieldLabel(f));
    expect(missing).toEqual([]);
    for (const l of LOCALES) for (const f of fields) expect(fieldLabel(l, 'target', f), `${l} ${f}`).not.toBe(f);
  });
});

describe('the language switch', () => {
  it('goes back only to a console page of this site', () => {
    expect(consoleReturnPath('/admin/audit?entity=answer')).toBe('/admin/audit?entity=answer');
    expect(consoleReturnPath('/admin')).toBe('/admin');
    for (const bad of ['//evil.example/admin', '/administrator', '/es/actions/x', 'https://evil.example/admin', '/admin\\..\\x', null, 3]) {
      expect(consoleReturnPath(bad)).toBe('/admin');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { signInputSchema } from './signature.schema.ts';
import { blockText } from '../shared/text.ts';

const valid = { firstName: ' Ana ', lastName: 'López', email: ' Ana@Example.org ', country: 'mx', consentCount: true };

describe('signInputSchema', () => {
  it('trims, normalises and upper-cases the country', () => {
    const out = signInputSchema.parse(valid);
    expect(out).toMatchObject({ firstName: 'Ana', email: 'Ana@Example.org', country: 'MX', consentCount: true, consentNamed: false });
  });

  it('reads HTML form checkbox values', () => {
    const out = signInputSchema.parse({ ...valid, consentCount: 'on', consentNamed: 'yes', consentWall: 'false' });
    expect(out).toMatchObject({ consentCount: true, consentNamed: true, consentWall: false });
  });

  it('normalises to NFC so the same name is stored one way', () => {
    const decomposed = 'Lo\u0301pez';
    expect(signInputSchema.parse({ ...valid, lastName: decomposed }).lastName).toBe('López');
  });

  it('accepts names in any script', () => {
    for (const name of ['Зухра', '李', 'محمد', 'Ngũgĩ', "O'Brien-Smith"]) {
      expect(signInputSchema.safeParse({ ...valid, firstName: name }).success).toBe(true);
    }
  });

  it('refuses links in a personalised letter', () => {
    const r = signInputSchema.safeParse({ ...valid, letterBody: 'see https://evil.example' });
    expect(r.success).toBe(false);
  });

  it.each([
    'see bit.ly/abc', 'ftp://evil.test/x', 'please read //evil.test/y', 'evil.test/phish', 'visit evil.com', 'join t.me/channel',
    'write to x@evil.test', 'hxxp://evil.test', 'evil\u3002test/x', 'data:text/html,hi', 'javascript:alert(1)', 'EVIL.TEST/X', 'gov.uz',
  ])('refuses in a letter, as links, what a mail client would make one of: %s', (body) => {
    const r = signInputSchema.safeParse({ ...valid, letterBody: `Dear Minister, ${body} thanks` });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => (i as { params?: { code?: string } }).params?.code)).toContain('links');
  });

  it('lets a letter say what letters say, abbreviations, figures and dates among them', () => {
    for (const body of [
      'On 12.03.2024 the U.S. and the U.N. said so, e.g. in Art. 3/4 of the Convention.',
      'He was held 3.5 days; 1/3 of detainees, i.e. many, were beaten. Dr. Ruiz and Mr. Kim saw it.',
      'Задержан 12.03.2024 г., т.е. без суда. Ст. 5/2 УК.',
      'I ask you to act. Thank you.',
    ]) {
      expect(signInputSchema.safeParse({ ...valid, letterBody: body }).success, body).toBe(true);
    }
  });

  it('reads a long letter of dots and hyphens in one pass: the link rule has no unbounded runs to try again and again', () => {
    // 200,000 characters: read in linear time this takes milliseconds; the quadratic rule it
    // replaces needed about 1.7 s for 20,000 characters, so a hundred times that here, far past
    // the test's limit
    const schema = blockText(200_000, 'Letter body');
    for (const body of ['a.'.repeat(100_000), 'a-'.repeat(100_000), 'a@'.repeat(100_000), `${'x '.repeat(99_990)}me@evil.test`]) {
      expect(schema.safeParse(body).success).toBe(!body.includes('@evil.test'));
    }
  });

  it('refuses a name or a letter that did not arrive whole: a lone surrogate, or bytes that were not UTF-8 (U+FFFD)', () => {
    for (const broken of ['\ud800', 'Ana\udfff', 'Ana\ufffd']) {
      const name = signInputSchema.safeParse({ ...valid, firstName: broken });
      expect(name.success, JSON.stringify(broken)).toBe(false);
      expect(name.error!.issues[0]!.path).toEqual(['firstName']);
      expect(signInputSchema.safeParse({ ...valid, letterBody: `Text ${broken}` }).success).toBe(false);
    }
  });

  it('keeps line breaks in letters but refuses other control characters', () => {
    expect(signInputSchema.parse({ ...valid, letterBody: 'One\r\n\r\nTwo' }).letterBody).toBe('One\n\nTwo');
    expect(signInputSchema.safeParse({ ...valid, letterBody: 'One\u0007' }).success).toBe(false);
  });
});

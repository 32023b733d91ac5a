import { describe, expect, it } from 'vitest';
import { signInputSchema } from './signature.schema.ts';

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

  it('keeps line breaks in letters but refuses other control characters', () => {
    expect(signInputSchema.parse({ ...valid, letterBody: 'One\r\n\r\nTwo' }).letterBody).toBe('One\n\nTwo');
    expect(signInputSchema.safeParse({ ...valid, letterBody: 'One\u0007' }).success).toBe(false);
  });
});

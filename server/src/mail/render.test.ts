import { describe, expect, it } from 'vitest';
import { LOCALES } from '../shared/locales.ts';
import { signupVars } from '../testing/signup-fixture.ts';
import { render } from './render.ts';

const letterVars = {
  subject: 'Let the Special Rapporteur visit',
  salutation: 'Dear Minister',
  greeting: 'Dear Minister,',
  request: 'First paragraph.\n\nSecond <b>paragraph</b>.',
  newCount: 3,
  totalCount: 10,
  countries: 'Mexico, Canada',
  names: ['Ana <script>alert(1)</script> López'],
  unnamedCount: 2,
  memberLetters: [],
  organisation: 'Chorus',
};

describe('render', () => {
  it('renders every template in every locale without missing variables', () => {
    for (const locale of LOCALES) {
      const footer = { unsubscribeUrl: 'http://x/unsubscribe/t', myDataUrl: 'http://x/my-data' };
      const c = render('confirmation', locale, { signup: signupVars, action: { title: 'T' }, confirmUrl: 'http://x/confirm/abc', expires: '1 Jan', ...footer });
      expect(c.locale).toBe(locale);
      expect(c.text).toContain('http://x/confirm/abc');
      expect(c.html).toContain('href="http://x/confirm/abc"');
      expect(c.text).toContain('http://x/unsubscribe/t');
      const a = render('already-signed', locale, { firstName: 'Ana', action: { title: 'T' }, actionUrl: 'http://x/a', ...footer });
      expect(a.text).toContain('http://x/a');
      expect(a.html).toContain('href="http://x/my-data"');
      const l = render('letter', locale, letterVars);
      expect(l.text).toContain('10');
      // the writing direction of the language: Arabic right to left
      expect(l.html).toContain(`<html lang="${locale}" dir="${locale === 'ar' ? 'rtl' : 'ltr'}">`);
    }
  });

  it('escapes member and staff values in the HTML part, and keeps them plain in the text part', () => {
    const l = render('letter', 'en', letterVars);
    expect(l.html).not.toContain('<script>');
    expect(l.html).toContain('Ana &lt;script&gt;alert(1)&lt;/script&gt; López');
    expect(l.html).toContain('<p>Second &lt;b&gt;paragraph&lt;/b&gt;.</p>');
    expect(l.text).toContain('- Ana <script>alert(1)</script> López');
  });

  it('shows every detail of the sign-up in the confirmation and reminder, the member’s letter escaped in HTML', () => {
    for (const name of ['confirmation', 'reminder'] as const) {
      const vars = { signup: signupVars, action: { title: 'T' }, confirmUrl: 'http://x/c', expires: '1 Jan', unsubscribeUrl: 'http://x/u', myDataUrl: 'http://x/m' };
      const m = render(name, 'en', vars);
      for (const line of [
        'Name: Ana López',
        'Country: Mexico',
        'Count my signature: yes',
        'Include my name in what officials receive: yes',
        'Also include my name for officials of my own country: no',
        "Show my first name and country on the action's page: no",
        'Keep me informed by email: yes',
        'Subject: My <subject>',
        'Second <script>x</script>.',
        '“This was not me”',
      ]) {
        expect(m.text).toContain(line);
      }
      expect(m.html).not.toContain('<script>');
      expect(m.html).toContain('<p>Second &lt;script&gt;x&lt;/script&gt;.</p>');
      const noLetter = render(name, 'en', { ...vars, signup: { ...signupVars, letter: null } });
      expect(noLetter.text).not.toContain('letter');
    }
  });

  it('never lets a value break the subject line', () => {
    const l = render('letter', 'en', { ...letterVars, subject: 'Hello\r\nBcc: victim@example.org' });
    expect(l.subject).toBe('Hello Bcc: victim@example.org');
  });

  it('falls back to English for a locale without templates', () => {
    expect(render('letter', 'de', letterVars).locale).toBe('en');
  });

  it('fails loudly on a missing variable rather than sending a hole', () => {
    expect(() => render('confirmation', 'en', { firstName: 'Ana' })).toThrow();
  });
});

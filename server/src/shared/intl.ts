// Intl formatters cost far more to build than to use (tens of microseconds each, measured in
// the confirmation worker's profile), so each locale and option set is built once and kept.
const dates = new Map<string, Intl.DateTimeFormat>();

export function dateFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let f = dates.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, options);
    dates.set(key, f);
  }
  return f;
}

/**
 * A long date to stand inside a sentence, with the sentence's own punctuation after it: the
 * locale's long form without what trails the year ("5 декабря 2026 г." reads "5 декабря 2026"),
 * so a template can end its sentence with a full stop in every language.
 */
export function dateInSentence(locale: string, at: Date, timeZone = 'UTC'): string {
  const parts = dateFormat(locale, { day: 'numeric', month: 'long', year: 'numeric', timeZone }).formatToParts(at);
  while (parts.length > 0 && parts[parts.length - 1]!.type === 'literal') parts.pop();
  return parts.map((p) => p.value).join('');
}

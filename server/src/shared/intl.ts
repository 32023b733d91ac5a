// Intl formatters cost far more to build than to use (tens of microseconds each, measured in
// the confirmation worker's profile), so each locale and option set is built once and kept.
const dates = new Map<string, Intl.DateTimeFormat>();
const plurals = new Map<string, Intl.PluralRules>();

export function dateFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let f = dates.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, options);
    dates.set(key, f);
  }
  return f;
}

export function pluralRules(locale: string): Intl.PluralRules {
  let r = plurals.get(locale);
  if (!r) {
    r = new Intl.PluralRules(locale);
    plurals.set(locale, r);
  }
  return r;
}

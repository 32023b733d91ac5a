export const LOCALES = ['en', 'es', 'fr', 'ru', 'uz', 'kk', 'fil', 'ar'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

/**
 * Other codes browsers send for one of our languages: Tagalog (tl), on which Filipino is based,
 * is what some phones in the Philippines ask for.
 */
export const LOCALE_ALIASES: Readonly<Record<string, Locale>> = { tl: 'fil' };

/** The locales written right to left: their pages carry dir="rtl". */
export const RTL_LOCALES: ReadonlySet<string> = new Set(['ar']);

/** The writing direction of a locale's pages, emails and letters. */
export function localeDirection(locale: string): 'rtl' | 'ltr' {
  return RTL_LOCALES.has(locale) ? 'rtl' : 'ltr';
}

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** The first locale of `preferred` that `available` has, else the fallback. */
export function pickLocale(preferred: readonly string[], available: readonly string[], fallback: string): string {
  for (const p of preferred) {
    if (available.includes(p)) return p;
  }
  return fallback;
}

/**
 * The best of our locales for an Accept-Language header, by quality value and then by
 * order; a region tag (es-MX) matches its language. Falls back to the default locale.
 */
export function negotiateLocale(header: string | null | undefined): Locale {
  if (!header) return DEFAULT_LOCALE;
  const ranges = header
    .split(',')
    .slice(0, 32)
    .map((part, index) => {
      const [tag = '', ...options] = part.trim().split(';');
      let q = 1;
      for (const option of options) {
        const [name, value] = option.trim().split('=');
        if (name?.trim().toLowerCase() === 'q' && value !== undefined) {
          const parsed = Number.parseFloat(value);
          q = Number.isFinite(parsed) ? parsed : 0;
        }
      }
      return { language: tag.trim().toLowerCase().split('-')[0] ?? '', q, index };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const range of ranges) {
    const language = LOCALE_ALIASES[range.language] ?? range.language;
    if (isLocale(language)) return language;
  }
  return DEFAULT_LOCALE;
}

export const LOCALES = ['en', 'es', 'fr', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

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

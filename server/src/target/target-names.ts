// A target's name in the reader's language. The directory's own columns (name, title,
// organisation) are in English; `names` holds them in the other languages members read, and
// `nameIsOfficial` says that the name is the target's own official one (say, "Fiscalía General
// de la República"), shown as it is in every language, in the target's language. A field
// missing in a language falls back to the directory's English one, as an action's texts fall
// back to its default language; `locale` and `roleLocale` say which language is shown, so
// pages can mark it (`lang`).
import { LOCALES, type Locale } from '../shared/locales.ts';

/** The directory's own language: the one its name, title and organisation columns are in. */
export const DIRECTORY_LOCALE = 'en';

/** The languages a target's names are held in besides the directory's own. */
export const NAME_LOCALES = LOCALES.filter((l) => l !== DIRECTORY_LOCALE) as Exclude<Locale, 'en'>[];
export type NameLocale = (typeof NAME_LOCALES)[number];

export interface TargetNameParts {
  name: string;
  title: string;
  organisation: string;
}
export type TargetNames = Partial<Record<NameLocale, Partial<TargetNameParts>>>;

export interface NamedTarget extends TargetNameParts {
  /** the target's own language (its letters' language) */
  language: string;
  names?: unknown;
  nameIsOfficial?: boolean;
}

export interface LocalTargetName extends TargetNameParts {
  /** the language the name is shown in */
  locale: string;
  /** the language the title and organisation are shown in */
  roleLocale: string;
}

/** The names as stored (a JSON object), keeping only well-formed entries of known languages. */
export function readTargetNames(value: unknown): TargetNames {
  const out: TargetNames = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const locale of NAME_LOCALES) {
    const entry = (value as Record<string, unknown>)[locale];
    if (!entry || typeof entry !== 'object') continue;
    const parts: Partial<TargetNameParts> = {};
    for (const key of ['name', 'title', 'organisation'] as const) {
      const v = (entry as Record<string, unknown>)[key];
      if (typeof v === 'string' && v.trim()) parts[key] = v;
    }
    if (Object.keys(parts).length) out[locale] = parts;
  }
  return out;
}

/** The target's name, title and organisation as a reader of `locale` sees them. */
export function localTargetName(target: NamedTarget, locale: string): LocalTargetName {
  const names = readTargetNames(target.names);
  const own = locale === DIRECTORY_LOCALE ? undefined : names[locale as NameLocale];
  const official = target.nameIsOfficial === true;
  const name = official ? target.name : (own?.name ?? target.name);
  const nameLocale = official ? target.language : own?.name ? locale : DIRECTORY_LOCALE;
  const roleOwn = Boolean(own?.title || own?.organisation);
  return {
    name,
    title: own?.title ?? target.title,
    organisation: own?.organisation ?? target.organisation,
    locale: nameLocale,
    roleLocale: roleOwn ? locale : DIRECTORY_LOCALE,
  };
}

/** The comma between the parts of a line, in the language of the text around it. */
const LINE_SEPARATOR: Record<string, string> = { ar: '، ' };

/** The target's name, title and organisation in `locale`, as one line ("Name, Title, Office"). */
export function localTargetLine(target: NamedTarget, locale: string): string {
  const local = localTargetName(target, locale);
  return [local.name, local.title, local.organisation].filter(Boolean).join(LINE_SEPARATOR[locale] ?? ', ');
}

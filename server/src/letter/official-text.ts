// Which of an action's texts a letter to an official is written in.
import { withoutOwnGreeting } from '../shared/salutation.ts';

/**
 * Which of an action's texts a letter is written in, greeting to sign-off in that one
 * language: the letter's language where its request to officials is written, else the
 * action's default language where it is, else any language that has one, else the letter's
 * language (else the default's) with a neutral sentence built from the title. The delivery's
 * query (selectLetterRows) orders the texts the same way.
 */
export function pickOfficialText<T extends { locale: string; officialRequest: string }>(texts: T[], wanted: string, defaultLocale: string): T | undefined {
  const has = (t: T) => t.officialRequest.trim() !== '';
  const sorted = [...texts].sort((a, b) => a.locale.localeCompare(b.locale));
  return (
    sorted.find((t) => t.locale === wanted && has(t)) ??
    sorted.find((t) => t.locale === defaultLocale && has(t)) ??
    sorted.find(has) ??
    sorted.find((t) => t.locale === wanted) ??
    sorted.find((t) => t.locale === defaultLocale) ??
    sorted[0]
  );
}

/**
 * The sentence a letter carries when the action has no request to officials in any language:
 * neutral, built from the title alone (never from the page's summary or body).
 */
const NEUTRAL_REQUEST: Record<string, (title: string) => string> = {
  en: (title) => `We, the undersigned, ask you to respond to our petition: “${title}”.`,
  es: (title) => `Las personas abajo firmantes le pedimos que responda a nuestra petición: «${title}».`,
  fr: (title) => `Nous, signataires, vous demandons de donner suite à notre pétition : « ${title} ».`,
  ar: (title) => `نحن الموقّعين أدناه، نطلب إليكم الرد على عريضتنا: «${title}».`,
  kk: (title) => `Біз, төменде қол қойғандар, Сізден «${title}» атты петициямызға жауап беруіңізді сұраймыз.`,
  fil: (title) => `Kami, ang mga nakalagda sa ibaba, ay humihiling sa inyo na tumugon sa aming petisyon: “${title}”.`,
  uz: (title) => `Biz, quyida imzo chekuvchilar, sizdan “${title}” petitsiyamizga javob berishingizni soʻraymiz.`,
  ru: (title) => `Мы, нижеподписавшиеся, просим вас ответить на нашу петицию «${title}».`,
};

/**
 * What a letter asks of the official: the action's request, or the neutral sentence built from its
 * title. A greeting line staff opened the request with is left out (withoutOwnGreeting), as in a
 * member's own letter: the letter template greets the official with the directory's salutation.
 */
export function requestText(text: { locale: string; title: string; officialRequest: string }): string {
  const request = withoutOwnGreeting(text.officialRequest.trim(), '').trim();
  if (request) return request;
  return (NEUTRAL_REQUEST[text.locale] ?? NEUTRAL_REQUEST.en!)(text.title);
}

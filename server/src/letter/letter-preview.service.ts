// What each official will receive from one member, before the member signs: the same
// rendering as a delivery (member-letter.ts), in the language each official gets.
import { z } from 'zod';
import type { ActionCache } from '../action/action.service.ts';
import { textFor } from '../action/action.service.ts';
import type { ActionRow } from '../action/action.repository.ts';
import { ActionKind, TargetMode } from '../db/db.ts';
import { invalid, notFound } from '../shared/errors.ts';
import { letterPreviewFormSchema } from '../shared/sign-form.ts';
import { renderMemberLetter } from './member-letter.ts';
import { pickOfficialText, requestText } from './official-text.ts';
import { isLocale } from '../shared/locales.ts';
import { salutationOf } from '../shared/salutation.ts';

/** The letter and whatever of the signer's details are known yet (the sign form's rules: shared/sign-form.ts). */
export const previewInputSchema = letterPreviewFormSchema;

export type PreviewInput = z.output<typeof previewInputSchema>;

export const previewSchema = z.object({
  previews: z.array(
    z.object({
      target: z.object({ name: z.string(), title: z.string(), organisation: z.string(), country: z.string().nullable(), language: z.string() }),
      locale: z.string(),
      subject: z.string(),
      text: z.string(),
    }),
  ),
});

/** The language a target's letter is written in: the target's own, where the action has it. */
export function letterLocale(action: Pick<ActionRow, 'texts' | 'defaultLocale'>, targetLanguage: string): string {
  return action.texts.some((t) => t.locale === targetLanguage) ? targetLanguage : action.defaultLocale;
}

/** The member's own letter, or null when the action takes no personal letters or the text is the action's own. */
export function personalLetter(action: ActionRow, subject: string | undefined, body: string | undefined): { subject: string | null; body: string | null } {
  if (action.kind !== ActionKind.LETTER || !action.allowPersonalisation) return { subject: null, body: null };
  if (body && body.length > action.maxLetterLength) {
    const message = `Letter body must be at most ${action.maxLetterLength} characters`;
    throw invalid('validation_failed', message, [{ path: 'letterBody', code: 'too_long', message }]);
  }
  const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
  const unchanged = (value: string | undefined, pick: (t: ActionRow['texts'][number]) => string) =>
    !value || action.texts.some((t) => squash(pick(t)) === squash(value));
  return {
    subject: unchanged(subject, (t) => t.letterSubject) ? null : subject!,
    body: unchanged(body, (t) => t.letterBody) ? null : body!,
  };
}

export async function previewLetters(cache: ActionCache, slug: string, input: PreviewInput): Promise<z.output<typeof previewSchema>> {
  const action = await cache.find(slug);
  if (!action) throw notFound('action_not_found', `No action is published at "${slug}"`);
  const own = personalLetter(action, input.letterSubject, input.letterBody);
  const targets =
    action.targetMode === TargetMode.BY_SIGNER_COUNTRY && input.country ? action.targets.filter((t) => t.country === input.country) : action.targets;
  // a member's own letter is wholly in the member's language (the page they sign on), as in a
  // delivery (letter.service.ts); the action's request is in the language the delivery picks
  const memberLocale = input.locale && isLocale(input.locale) ? input.locale : undefined;
  return {
    previews: targets.map((t) => {
      const wanted = letterLocale(action, t.language);
      const official = pickOfficialText(action.texts, wanted, action.defaultLocale);
      const locale = own.body !== null && memberLocale ? memberLocale : (official?.locale ?? wanted);
      const text = own.body !== null && memberLocale ? textFor(action, memberLocale) : official;
      const letter = {
        subject: own.subject ?? (text?.letterSubject || text?.title || action.slug),
        // what officials receive: the member's own letter, else the action's request to officials
        // (or the neutral sentence built from its title), never the page's texts
        body: own.body ?? requestText(official ?? { locale, title: action.slug, officialRequest: '' }),
      };
      const rendered = renderMemberLetter(locale, { country: t.country, salutation: salutationOf(t) }, letter, {
        firstName: input.firstName ?? null,
        lastName: input.lastName ?? null,
        country: input.country ?? null,
        namedDisclosure: input.consentNamed ?? false,
        namedToOwnCountry: input.consentNamedToOwnCountry ?? false,
      });
      return {
        target: { name: t.name, title: t.title, organisation: t.organisation, country: t.country, language: t.language },
        locale,
        subject: rendered.subject,
        text: rendered.text,
      };
    }),
  };
}

// What each official will receive from one member, before the member signs: the same
// rendering as a delivery (member-letter.ts), in the language each official gets.
import { z } from 'zod';
import type { ActionCache } from '../action/action.service.ts';
import { textFor } from '../action/action.service.ts';
import type { ActionRow } from '../action/action.repository.ts';
import { ActionKind, TargetMode } from '../db/db.ts';
import { invalid, notFound } from '../shared/errors.ts';
import { letterPreviewFormSchema } from '../shared/sign-form.ts';
import { localTargetName } from '../target/target-names.ts';
import { mayName, renderMemberLetter, type SignerForLetter } from './member-letter.ts';
import { pickOfficialText, requestText } from './official-text.ts';
import { salutationOf } from '../shared/salutation.ts';

/** The letter and whatever of the signer's details are known yet (the sign form's rules: shared/sign-form.ts). */
export const previewInputSchema = letterPreviewFormSchema;

export type PreviewInput = z.output<typeof previewInputSchema>;

export const previewSchema = z.object({
  previews: z.array(
    z.object({
      target: z
        .object({
          name: z.string(),
          title: z.string(),
          organisation: z.string(),
          country: z.string().nullable(),
          language: z.string(),
          nameLocale: z.string().describe('the language the name, in the requested locale where the directory has it, is shown in'),
          roleLocale: z.string().describe('the language the title and organisation are shown in'),
        })
        .describe("the official, named in the request's locale"),
      locale: z.string().describe("the letter's language: its greeting and sign-off are in it too"),
      own: z.boolean().describe("the member's own text (in the language of the action's text they started from), not the action's letter"),
      named: z.boolean().describe("the signer's name is in the letter"),
      withheld: z
        .enum(['not_chosen', 'own_country', 'no_name'])
        .nullable()
        .describe(
          'why the name is not in the letter: `not_chosen`, the signer did not choose to be named; `own_country`, the official is of the signer\'s own country and the signer did not choose to be named to them; `no_name`, no name given yet',
        ),
      subject: z.string(),
      text: z.string(),
    }),
  ),
});

/** The language a target's letter is written in: the target's own, where the action has it. */
export function letterLocale(action: Pick<ActionRow, 'texts' | 'defaultLocale'>, targetLanguage: string): string {
  return action.texts.some((t) => t.locale === targetLanguage) ? targetLanguage : action.defaultLocale;
}

/**
 * The language of one official's letter, greeting and sign-off included: the action's letter
 * goes in the official's language where the action has it (letterLocale); a member's own text
 * stays in the language of the action's text the member started from (the page's, else the
 * action's default), so that a letter written in English never opens with a Spanish greeting.
 */
export function memberLetterLocale(action: Pick<ActionRow, 'texts' | 'defaultLocale'>, targetLanguage: string, own: boolean, signerLocale: string | undefined): string {
  if (!own) return letterLocale(action, targetLanguage);
  return textFor(action as ActionRow, signerLocale ?? action.defaultLocale)?.locale ?? action.defaultLocale;
}

/** Why a signer's name is not in an official's letter, or null when it is. */
export function withheldReason(targetCountry: string | null, signer: SignerForLetter): 'not_chosen' | 'own_country' | 'no_name' | null {
  if (mayName(targetCountry, signer)) return null;
  if (!signer.namedDisclosure) return 'not_chosen';
  if (!signer.firstName) return 'no_name';
  return 'own_country';
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
    body: unchanged(body, (t) => t.officialRequest) ? null : body!,
  };
}

export async function previewLetters(cache: ActionCache, slug: string, input: PreviewInput): Promise<z.output<typeof previewSchema>> {
  const action = await cache.find(slug);
  if (!action) throw notFound('action_not_found', `No action is published at "${slug}"`);
  const own = personalLetter(action, input.letterSubject, input.letterBody);
  const targets =
    action.targetMode === TargetMode.BY_SIGNER_COUNTRY && input.country ? action.targets.filter((t) => t.country === input.country) : action.targets;
  return {
    previews: targets.map((t) => {
      const isOwn = own.subject !== null || own.body !== null;
      // the action's request goes in the official's language where the action has one; a
      // member's own letter stays in the language the member started from (memberLetterLocale)
      const wanted = isOwn ? memberLetterLocale(action, t.language, true, input.locale) : letterLocale(action, t.language);
      const official = pickOfficialText(action.texts, wanted, action.defaultLocale);
      const locale = isOwn ? wanted : (official?.locale ?? wanted);
      const text = isOwn ? textFor(action, locale) : official;
      const letter = {
        subject: own.subject ?? (text?.letterSubject || text?.title || action.slug),
        // what officials receive: the member's own letter, else the action's request to officials
        // (or the neutral sentence built from its title), never the page's texts
        body: own.body ?? requestText(official ?? { locale, title: action.slug, officialRequest: '' }),
      };
      const signer: SignerForLetter = {
        firstName: input.firstName ?? null,
        lastName: input.lastName ?? null,
        country: input.country ?? null,
        namedDisclosure: input.consentNamed ?? false,
        namedToOwnCountry: input.consentNamedToOwnCountry ?? false,
      };
      const rendered = renderMemberLetter(locale, { country: t.country, salutation: salutationOf(t), language: t.language, title: t.title }, letter, signer);
      const local = localTargetName(t, input.locale ?? action.defaultLocale);
      const withheld = withheldReason(t.country, signer);
      return {
        target: {
          name: local.name,
          title: local.title,
          organisation: local.organisation,
          country: t.country,
          language: t.language,
          nameLocale: local.locale,
          roleLocale: local.roleLocale,
        },
        locale,
        own: isOwn,
        named: withheld === null,
        withheld,
        subject: rendered.subject,
        text: rendered.text,
      };
    }),
  };
}

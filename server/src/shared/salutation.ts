// How a letter greets its official. Staff type a target's salutation ("Dear Secretary",
// "Estimado Fiscal General", "Уважаемый господин министр"); the letter adds the punctuation
// its language closes a greeting with. What staff type is normalised when it is saved and
// again when a letter is rendered, so "Dear Secretary," never becomes "Dear Secretary,,".
// Shared with the console, which shows the resulting greeting line on the target form.

/** The punctuation a letter's greeting line ends with, per language (English and French: a comma). */
const GREETING_END: Record<string, string> = { en: ',', fr: ',', es: ':', ru: '!' };

/**
 * A salutation as stored: trimmed, inner whitespace collapsed, and without the punctuation a
 * greeting line ends with (commas, colons, semicolons, exclamation marks, in any script),
 * which the letter adds itself. A full stop stays: it may end an abbreviation ("Sr.").
 */
export function normaliseSalutation(s: string): string {
  return s
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s,:;!\u00A1\u060C\u061B\u3001\uFF0C\uFF1A\uFF1B\uFF01]+$/u, '')
    .trim();
}

/** The salutation a letter uses: the target's own, else its title, else its name. */
export function salutationOf(t: { salutation: string; title: string; name: string }): string {
  return normaliseSalutation(t.salutation) || normaliseSalutation(t.title) || t.name.trim();
}

/** The greeting line of a letter in `locale`: "Dear Secretary," / "Estimado Fiscal:" / "Уважаемый министр!". */
export function greetingLine(salutation: string, locale: string): string {
  const s = normaliseSalutation(salutation);
  return s ? `${s}${GREETING_END[locale] ?? GREETING_END.en}` : '';
}

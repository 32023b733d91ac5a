// How a letter greets its official. Staff type a target's salutation ("Dear Secretary",
// "Estimado Fiscal General", "Уважаемый господин министр"); the letter adds the punctuation
// its language closes a greeting with. What staff type is normalised when it is saved and
// again when a letter is rendered, so "Dear Secretary," never becomes "Dear Secretary,,".
// Shared with the console, which shows the resulting greeting line on the target form.

/** The punctuation a letter's greeting line ends with, per language (English and French: a comma). */
const GREETING_END: Record<string, string> = { en: ',', fr: ',', es: ':', ru: '!', ar: "،", kk: "!", fil: ":", uz: "!" };

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

/**
 * Words that open a greeting line in the languages Chorus writes letters in, compared in lower
 * case at the start of a line. A member writing on an English page may still greet in Russian,
 * so every language's words are looked for, whatever the letter's language.
 */
const GREETING_OPENERS = [
  // en
  'dear', 'to whom it may concern', 'hello', 'hi', 'greetings', 'your excellency', 'excellency', 'honourable', 'honorable',
  'good morning', 'good afternoon', 'good evening',
  // es
  'estimado', 'estimada', 'estimados', 'estimadas', 'querido', 'querida', 'queridos', 'queridas', 'distinguido', 'distinguida',
  'distinguidos', 'distinguidas', 'excelentísimo', 'excelentísima', 'señor', 'señora', 'señores', 'sr.', 'sra.', 'hola',
  'a quien corresponda', 'buenos días', 'buenas tardes',
  // fr
  'madame', 'monsieur', 'mesdames', 'messieurs', 'cher', 'chère', 'chers', 'chères', 'bonjour', 'bonsoir', 'excellence',
  'à qui de droit',
  // ru
  'уважаемый', 'уважаемая', 'уважаемые', 'многоуважаемый', 'многоуважаемая', 'дорогой', 'дорогая', 'дорогие', 'здравствуйте',
  'добрый день', 'господин', 'госпожа', 'ваше превосходительство',
  // uz
  'hurmatli', 'muhtaram', 'assalomu alaykum', 'janob', 'xonim', 'oliy hazratlari',
  // kk
  'құрметті', 'аса құрметті', 'сәлеметсіз бе', 'армысыз', 'мырза', 'ханым',
  // fil
  'mahal na', 'kagalang-galang na', 'ginoo', 'ginang', 'magandang araw', 'magandang umaga', 'magandang hapon', 'sa kinauukulan',
  // ar
  'السيد', 'السيدة', 'معالي', 'سعادة', 'حضرة', 'عزيزي', 'عزيزتي', 'تحية طيبة', 'إلى من يهمه الأمر',
];

/** The longest line taken for a greeting: a greeting names a person or an office, never says more. */
const GREETING_MAX = 120;

/**
 * Whether one line of a letter is a greeting: the salutation itself ("Dear Minister", whatever
 * punctuation follows), or a short line that opens with a greeting word and says nothing more
 * than a form of address: no full stop, question mark or ellipsis ends it or a sentence in it
 * ("Dear Minister," and "Уважаемый министр!" are greetings; "Madame X a été arrêtée le 3 mai."
 * is not).
 */
export function isGreetingLine(line: string, salutation: string): boolean {
  const s = normaliseSalutation(line).toLocaleLowerCase();
  if (!s || line.trim().length > GREETING_MAX) return false;
  const own = normaliseSalutation(salutation).toLocaleLowerCase();
  if (own && s === own) return true;
  // what a sentence has and a form of address has not; a full stop after an abbreviation ("Sr.") is not one
  const plain = line.trim().replace(/(?<!\p{L})(?:sr|sra|srta|dr|dra|mr|mrs|ms|m|mme|mlle|г|г-н|г-жа)\.(?=\s|$)/giu, (abbr) => abbr.slice(0, -1));
  if (/[?…]|\.\s*$|[.!?]\s+\p{Lu}/u.test(plain)) return false;
  return GREETING_OPENERS.some((w) => s === w || (s.startsWith(w) && /^[\s,:;!\u060C]/u.test(s.slice(w.length))));
}

/**
 * A member's own letter without a greeting of their own, since the letter opens with the
 * target's salutation (greetingLine): "Dear Minister,\n\nI write..." becomes "I write...". Only
 * the first line with words is looked at, and only when it stands alone (more text follows it);
 * a greeting inside the first sentence ("Dear Minister, I write...") is left as it is.
 */
export function withoutOwnGreeting(body: string, salutation: string): string {
  const match = /^\s*([^\r\n]*)\r?\n([\s\S]*)$/.exec(body);
  if (!match) return body;
  const first = match[1]!;
  const rest = match[2]!;
  if (!rest.trim() || !isGreetingLine(first, salutation)) return body;
  // the blank lines between the greeting and the text go with it
  return rest.replace(/^(?:[ \t]*\r?\n)+/, '');
}

// The languages a target's name, title and organisation are held in besides English (the
// directory's own), as the API takes them (server/src/target/target-names.ts).
import { LOCALES, type Locale } from '$shared/locales';

export const TARGET_NAME_LOCALES = LOCALES.filter((l) => l !== 'en') as Exclude<Locale, 'en'>[];
export type TargetNameLocale = (typeof TARGET_NAME_LOCALES)[number];

const LABEL_KEYS = {
	name: 'field_name',
	title: 'field_title',
	organisation: 'field_organisation',
	email: 'field_email',
	salutation: 'field_salutation',
	kind: 'field_kind',
	country: 'field_country',
	language: 'field_language',
	timezone: 'field_timezone',
	officeHours: 'field_office_hours',
	lastVerifiedAt: 'field_last_verified',
	notes: 'field_notes'
} as const;

/** Each field of the target form by its label in the console's language, for the error summary. */
export function targetFieldLabels(t: (key: (typeof LABEL_KEYS)[keyof typeof LABEL_KEYS]) => string): Record<string, string> {
	const labels: Record<string, string> = {};
	for (const [field, key] of Object.entries(LABEL_KEYS)) labels[field] = t(key);
	for (const l of TARGET_NAME_LOCALES) for (const part of ['name', 'title', 'organisation'] as const) labels[`names.${l}.${part}`] = `${t(LABEL_KEYS[part])} (${l})`;
	return labels;
}

// What a consent's wording version means to the person who gave it: where the words were shown,
// the month they were written, and the words themselves (the choice's label on the signing form,
// the button pressed on "my data" or the unsubscribe page). The versions are those the API
// records ($shared/consent-wording); a version this page does not know is shown as it is.
import { CONSENT_WORDINGS } from '$shared/consent-wording';
import type { Locale, TextKey } from '$lib/i18n';
import { t } from '$lib/i18n';

type Place = (typeof CONSENT_WORDINGS)[keyof typeof CONSENT_WORDINGS]['place'];

const PLACE: Record<Place, TextKey> = {
	sign: 'wording_sign',
	'self-service': 'wording_self_service',
	unsubscribe: 'wording_unsubscribe'
};

/** The label of each choice of the signing form. */
const SIGN_WORDS: Record<string, TextKey> = {
	COUNT: 'consent_count',
	NAMED_DISCLOSURE: 'consent_named',
	NAMED_TO_OWN_COUNTRY: 'consent_named_own_country',
	PUBLIC_WALL: 'consent_wall',
	CONTACT: 'consent_contact'
};

/** The button of the "my data" page that gives (first) or withdraws (second) each choice. */
const SELF_SERVICE_WORDS: Record<string, [TextKey, TextKey]> = {
	NAMED_DISCLOSURE: ['my_data_named_start', 'my_data_named_stop'],
	NAMED_TO_OWN_COUNTRY: ['my_data_own_start', 'my_data_own_stop'],
	PUBLIC_WALL: ['my_data_wall_start', 'my_data_wall_stop'],
	CONTACT: ['my_data_contact_start', 'my_data_contact_stop']
};

function words(place: Place, purpose: string, granted: boolean): TextKey | undefined {
	if (place === 'sign') return SIGN_WORDS[purpose];
	if (place === 'self-service') {
		const pair = SELF_SERVICE_WORDS[purpose];
		return pair ? pair[granted ? 0 : 1] : undefined;
	}
	return purpose === 'CONTACT' && !granted ? 'unsubscribe_button' : undefined;
}

export interface Wording {
	/** where and when: "Signing form, wording of November 2026"; the raw version for one not known here */
	source: string;
	/** the words agreed to, quoted, where known */
	words: string | null;
}

/** A consent's wording, as a person reads it. */
export function consentWording(locale: Locale, version: string, purpose: string, granted: boolean): Wording {
	const known = (CONSENT_WORDINGS as Record<string, { place: Place; month: string }>)[version];
	if (!known) return { source: version, words: null };
	const [year, month] = known.month.split('-').map(Number);
	const when = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(year!, month! - 1, 1)));
	const key = words(known.place, purpose, granted);
	return { source: t(locale, PLACE[known.place], { month: when }), words: key ? t(locale, 'wording_words', { words: t(locale, key) }) : null };
}

// The staff console's messages: each area of the console names its keys `<area>.<key>` in
// ../messages/<locale>.json, and its module here is a typed handle on that area.
import type { Locale } from '$lib/i18n';
import { formatMessage, hasMessage, type MessageKey, type Params } from '../format';

export type { Params };

/** The keys of one console area, without the area's prefix. */
export type AreaKey<A extends string> = { [K in MessageKey]: K extends `${A}.${infer R}` ? R : never }[MessageKey];

export interface Area<A extends string> {
	readonly area: A;
}

export function defineArea<const A extends string>(area: A): Area<A> {
	return { area };
}

/**
 * `t(key, params)` for one console area and locale. Numbers in params are formatted for the
 * locale, except those that choose a plural form.
 */
export function adminT<A extends string>(dictionary: Area<A>, locale: Locale) {
	return (key: AreaKey<A>, params?: Params): string => formatMessage(locale, `${dictionary.area}.${key}` as MessageKey, params);
}

/** Whether the area has a message of that key (for words chosen by a code from the API). */
export function hasKey<A extends string>(dictionary: Area<A>, key: string): key is AreaKey<A> {
	return hasMessage(`${dictionary.area}.${key}`);
}

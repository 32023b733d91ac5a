import type { ParamMatcher } from '@sveltejs/kit';
import { isLocale, type Locale } from '$lib/i18n';

export const match = ((param: string): param is Locale => isLocale(param)) satisfies ParamMatcher;

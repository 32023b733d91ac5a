// A target form's fields as the API's body (creating and changing a target take the same).
import type { ApiBody } from '$lib/api/types';
import { formBody } from './staff';
import { TARGET_NAME_LOCALES } from '$lib/admin/target-names';

type TargetBody = ApiBody<'/api/admin/targets', 'post'>;

export function targetBody(values: Record<string, string>): TargetBody {
	const text = (field: keyof TargetBody) => values[field] ?? '';
	return formBody<TargetBody>({
		name: text('name'),
		title: text('title'),
		organisation: text('organisation'),
		// a kind the directory does not know goes as typed: the API refuses it by name
		kind: text('kind'),
		country: text('country') || null,
		email: text('email'),
		language: text('language'),
		timezone: text('timezone'),
		officeHours: text('officeHours'),
		salutation: text('salutation'),
		// every language's fields are on the form, so what it sends replaces what the directory held
		names: Object.fromEntries(
			TARGET_NAME_LOCALES.map((l) => [
				l,
				{ name: values[`names.${l}.name`] ?? '', title: values[`names.${l}.title`] ?? '', organisation: values[`names.${l}.organisation`] ?? '' }
			])
		),
		nameIsOfficial: values.nameIsOfficial === 'yes',
		lastVerifiedAt: text('lastVerifiedAt') || null,
		notes: text('notes')
	});
}

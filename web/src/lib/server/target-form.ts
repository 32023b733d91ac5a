// A target form's fields as the API's body (creating and changing a target take the same).
import type { ApiBody } from '$lib/api/types';
import { formBody } from './staff';

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
		lastVerifiedAt: text('lastVerifiedAt') || null,
		notes: text('notes')
	});
}

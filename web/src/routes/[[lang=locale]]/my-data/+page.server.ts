import { fail, redirect } from '@sveltejs/kit';
import type { TextKey } from '$lib/i18n';
import { isPlausibleEmail } from '$shared/email';
import { SIGN_LIMITS } from '$shared/sign-form';
import { api } from '$lib/server/api';
import { myDataPath } from '$lib/paths';
import type { Actions } from './$types';

interface RequestState {
	email: string;
	error: TextKey | undefined;
	formError: TextKey | undefined;
}

export const actions: Actions = {
	// The answer is the same whether or not we hold data for the address: only its owner,
	// reading the email, learns that.
	default: async (event) => {
		const { locale } = event.locals;
		const form = await event.request.formData().catch(() => new FormData());
		const raw = form.get('email');
		const email = typeof raw === 'string' ? raw.trim() : '';

		const invalid = (error: TextKey | undefined, formError?: TextKey, status = 422) =>
			fail(status, { email, error, formError } satisfies RequestState);
		if (!email) return invalid('err_email_required');
		// the sign form's rule for an address (the API checks it again)
		if (email.length > SIGN_LIMITS.email) return invalid('err_email_too_long');
		if (!isPlausibleEmail(email)) return invalid('err_email_invalid');

		const result = await api(event).POST('/api/my-data/requests', { body: { email, locale } });
		if (!result.error) redirect(303, myDataPath(locale, 'sent'));
		const status = result.response.status;
		if (status === 422) return invalid('err_email_invalid');
		if (status === 429) return invalid(undefined, 'err_rate_limited', 429);
		return invalid(undefined, 'err_form_generic', status);
	}
};

import { fail, redirect } from '@sveltejs/kit';
import type { TextKey } from '$lib/i18n';
import type { MyDataRequest, MyDataRequestAccepted } from '$lib/api-types';
import { api } from '$lib/server/api';
import { myDataPath } from '$lib/paths';
import type { Actions } from './$types';

// The same loose check as the browser's type=email; the API has the final word.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

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
		const email = typeof raw === 'string' ? raw.slice(0, 1000).trim() : '';

		const invalid = (error: TextKey | undefined, formError?: TextKey, status = 422) =>
			fail(status, { email, error, formError } satisfies RequestState);
		if (!email) return invalid('err_email_required');
		if (email.length > 254 || !EMAIL.test(email)) return invalid('err_email_invalid');

		const body: MyDataRequest = { email, locale };
		const result = await api<MyDataRequestAccepted>(event, '/api/my-data/requests', { method: 'POST', body });
		if (result.ok) redirect(303, myDataPath(locale, 'sent'));
		if (result.status === 422) return invalid('err_email_invalid');
		if (result.status === 429) return invalid(undefined, 'err_rate_limited', 429);
		return invalid(undefined, 'err_form_generic', result.status);
	}
};

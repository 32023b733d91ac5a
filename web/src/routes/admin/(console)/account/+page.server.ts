import { fail } from '@sveltejs/kit';
import QRCode from 'qrcode';
import { refusal, staffApi } from '$lib/server/staff';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async () => ({});

export const actions: Actions = {
	setup: async (event) => {
		const result = await staffApi(event).POST('/api/staff/me/totp/setup');
		if (result.error) return fail(result.response.status, { error: refusal(event, result) });
		// drawn here as SVG: the key never leaves our server for a QR service
		const qr = await QRCode.toString(result.data.otpauthUrl, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
		return { setup: { secret: result.data.secret, qr } };
	},
	confirm: async (event) => {
		// a body that is not a form (wrong content type, broken encoding) is an empty form: a 4xx, not a 500
		const form = await event.request.formData().catch(() => new FormData());
		const totp = String(form.get('totp') ?? '').replace(/\s+/g, '');
		const result = await staffApi(event).POST('/api/staff/me/totp/confirm', { body: { totp } });
		if (result.error) return fail(422, { invalid: true });
		return { done: true };
	}
};

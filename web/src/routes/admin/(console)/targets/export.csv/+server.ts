// The directory as a CSV download: the API's file, passed through as it streams. The API
// checks the session and the role (the staff client forwards the cookie), and neutralises
// cells a spreadsheet would evaluate.
import { error } from '@sveltejs/kit';
import { staffApi } from '$lib/server/staff';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async (event) => {
	const upstream = await staffApi(event, { download: true }).GET('/api/admin/targets/export.csv', { parseAs: 'stream' });
	if (upstream.error) error(upstream.response.status, { message: 'Error', code: 'api_error' });
	const headers = upstream.response.headers;
	return new Response(upstream.data, {
		headers: {
			'content-type': headers.get('content-type') ?? 'text/csv; charset=utf-8',
			'content-disposition': headers.get('content-disposition') ?? 'attachment; filename="targets.csv"',
			'cache-control': 'no-store',
			'x-content-type-options': 'nosniff'
		}
	});
};

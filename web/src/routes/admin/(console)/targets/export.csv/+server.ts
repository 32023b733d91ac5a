// The directory as a CSV download: the API's file, passed through as it streams. The API
// checks the session and the role (staffFetch forwards the cookie), and neutralises cells
// a spreadsheet would evaluate.
import { staffFetch } from '$lib/server/staff';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async (event) => {
	const upstream = await staffFetch(event, '/api/admin/targets/export.csv');
	return new Response(upstream.body, {
		headers: {
			'content-type': upstream.headers.get('content-type') ?? 'text/csv; charset=utf-8',
			'content-disposition': upstream.headers.get('content-disposition') ?? 'attachment; filename="targets.csv"',
			'cache-control': 'no-store',
			'x-content-type-options': 'nosniff'
		}
	});
};

// Tokens from emailed links, as the pages pass them to the API. They are opaque to us:
// anything implausible is answered as an invalid link without asking the API.
import { error } from '@sveltejs/kit';

const TOKEN = /^[A-Za-z0-9._~-]{1,512}$/;

/** The token (the API client encodes it into the path); a 404 "invalid link" page if it cannot be one. */
export function checkedToken(token: string | undefined): string {
	if (!token || !TOKEN.test(token)) error(404, { message: 'Invalid link', code: 'invalid_link' });
	return token;
}

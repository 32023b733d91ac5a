// The receipt of a signature just confirmed travels from the confirm page to the thanks page in a
// short-lived cookie (server/src/signature/receipt.ts RECEIPT_COOKIE: the API sets the same one for
// a form posted to it straight), never in a URL.
export const RECEIPT_COOKIE = 'chorus_receipt';

/** The cookie's value if it is a receipt code as we make them (four groups of five), else null. */
export function receiptFrom(value: string | undefined): string | null {
	return value && /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$/.test(value) ? value : null;
}

// The shapes of the Chorus API's answers, as the pages use them. Types only: safe to
// import anywhere (the calls themselves live in $lib/server/api.ts).

export type ActionKind = 'PETITION' | 'LETTER';
export type ActionStatus = 'DRAFT' | 'PUBLISHED' | 'CLOSED' | 'ARCHIVED';

export interface ActionSummary {
	slug: string;
	kind: ActionKind;
	status: ActionStatus;
	/** the locale the texts are in (may differ from the one asked for, as a fallback) */
	locale?: string;
	title: string;
	summary: string;
	goal: number;
	count: number;
	signingOpen?: boolean;
	campaign: { slug: string; name: string };
}

export interface ActionTarget {
	name: string;
	title: string | null;
	organisation: string | null;
	country: string | null;
}

/** FIXED: the action's targets get every letter; BY_SIGNER_COUNTRY: the officials of the signer's chosen country, once countryMin signers of that country are owed a letter. */
export type TargetMode = 'FIXED' | 'BY_SIGNER_COUNTRY';

/** A recent signer who chose to be shown on the action page. */
export interface WallEntry {
	firstName: string;
	/** ISO 3166 code */
	country: string;
	/** the day only, YYYY-MM-DD (UTC) */
	at: string;
}

/** An official's published answer to an action. */
export interface OfficialResponse {
	id?: string;
	target: { name: string; title: string | null; organisation: string | null };
	/** plain text */
	body: string;
	/** ISO date-time */
	publishedAt: string;
	/** documents the official attached, downloaded from /api/answers/{id}/attachments/{attachmentId} */
	attachments?: { id: string; filename: string; size: number }[];
}

export interface ActionDetail extends ActionSummary {
	signingOpen: boolean;
	locale: string;
	body: string;
	letterSubject: string | null;
	letterBody: string | null;
	/** suggested text for share links, if the campaigners wrote one */
	shareText?: string | null;
	/** LETTER actions: whether a signer may write their own subject and text */
	allowPersonalisation: boolean;
	/** the longest letter text a signer may write */
	maxLetterLength: number;
	targetMode: TargetMode;
	/** public counts by country: only countries with at least countryMin signers, once a day */
	countries: { country: string; count: number }[];
	/** signers of the countries below countryMin, counted together ("other countries") */
	otherCountries: number;
	/** PUBLIC_COUNTRY_MIN */
	countryMin: number;
	targets: ActionTarget[];
	/** up to 20 recent signers who chose to be shown */
	wall: WallEntry[];
	/** official answers, newest first (may be empty) */
	responses: OfficialResponse[];
	/** proof of delivery: the latest letters to officials, newest first (at most 50) */
	ledger?: LedgerEntry[];
}

export type LetterStatus = 'PENDING' | 'SUBMITTING' | 'SENT' | 'FAILED' | 'BOUNCED';

/** One letter in an action's public proof of delivery. */
export interface LedgerEntry {
	/** the day the letter was made (YYYY-MM-DD) */
	date: string;
	target: { name: string; organisation: string };
	/** null: letters to each signer's own country's officials, below the public minimum */
	count: number | null;
	/** the receiving mail server accepted it */
	accepted: boolean;
	bounced: boolean;
	/** the packet link in the letter was opened (a mail scanner counts) */
	opened: boolean;
	/** a published answer exists */
	answered: boolean;
	/** seconds from the delivery to the published answer */
	responseSeconds?: number | null;
	status: LetterStatus;
}

/** What the official who received a letter sees through the link in it. */
export interface Packet {
	letter: { id: string; sentAt: string | null; status: LetterStatus; locale: string; signatureCount: number; totalCount: number; subject: string };
	action: { slug: string; title: string };
	target: { name: string; title: string; organisation: string };
	/** counts by country as this official may see them (countryForOfficial on the server) */
	countries: { country: string; count: number }[];
	/** signers whose country is not shown to this official, counted together */
	countryNotShown: number;
	/** name null: not named to this official; country null: not shown, for the signer's safety */
	signers: { name: string | null; country: string | null; confirmedAt: string }[];
	signersTruncated: boolean;
	memberLetters: { subject: string; text: string }[];
	responses: { body: string; receivedAt: string; status: 'RECEIVED' | 'PUBLISHED' | 'REJECTED' }[];
}

export interface PacketAnswer {
	body: string;
	acknowledgeOnly?: boolean;
	/** PDF, PNG, JPEG or plain text, at most 3 of 5 MB each, base64 */
	attachments?: { filename: string; contentType: string; data: string }[];
}

export interface PacketAnswerAccepted {
	status: 'received';
}

export interface ActionList {
	actions: ActionSummary[];
}

export interface SignRequest {
	firstName: string;
	lastName: string;
	email: string;
	country: string;
	consentCount: true;
	consentNamed: boolean;
	/** named even to officials of the signer's own country (only together with consentNamed) */
	consentNamedToOwnCountry: boolean;
	consentWall: boolean;
	consentContact: boolean;
	locale: string;
	source?: string;
	/** LETTER actions with allowPersonalisation: the signer's own subject (<= 200) */
	letterSubject?: string;
	/** LETTER actions with allowPersonalisation: the signer's own text (<= maxLetterLength, no links) */
	letterBody?: string;
	/** honeypot, passed through as typed */
	website: string;
}

export interface SignAccepted {
	status: 'received';
}

/** Exactly what confirming a sign-up confirms. */
export interface SignupDetails {
	firstName: string;
	lastName: string;
	country: string;
	consents: { count: true; named: boolean; namedToOwnCountry: boolean; wall: boolean; contact: boolean };
	/** the member's own letter, if they changed the action's */
	letter: { subject: string | null; body: string | null } | null;
}

/** replaced: a newer sign-up with the address took its place; discarded: its owner said "This was not me" */
export interface ConfirmationState {
	status: 'pending' | 'confirmed' | 'replaced' | 'discarded';
	action: { slug: string; title: string };
	/** while pending */
	signup?: SignupDetails;
	/** while pending: sent back with either button, so nothing happens if the sign-up changed since */
	version?: string;
	/** while pending or discarded: the other waiting sign-ups with this address for this action */
	others?: { token: string; createdAt: string; signup: SignupDetails }[];
}

export interface DiscardResult {
	status: 'discarded';
	action: { slug: string; title: string };
}

export interface ConfirmationResult {
	status: 'confirmed' | 'already_confirmed';
	action: { slug: string; title: string };
}

export interface LetterPreviewRequest {
	letterSubject?: string;
	letterBody?: string;
	firstName?: string;
	lastName?: string;
	country?: string;
	consentNamed?: boolean;
	consentNamedToOwnCountry?: boolean;
	locale?: string;
}

export interface LetterPreview {
	target: { name: string; title: string | null; organisation: string | null; country: string | null; language: string };
	/** the language the letter is written in for this target */
	locale: string;
	subject: string;
	/** the plain text this target receives from this member: salutation, body, sign-off */
	text: string;
}

export interface LetterPreviewResult {
	previews: LetterPreview[];
}

export interface UnsubscribeState {
	status: 'subscribed' | 'unsubscribed';
}

export interface UnsubscribeResult {
	status: 'unsubscribed';
}

export interface MyDataRequest {
	email: string;
	locale: string;
}

export interface MyDataRequestAccepted {
	status: 'received';
}

export type SignatureStatus = 'PENDING' | 'CONFIRMED' | 'INVALIDATED';
export type ConsentPurpose = 'COUNT' | 'NAMED_DISCLOSURE' | 'NAMED_TO_OWN_COUNTRY' | 'PUBLIC_WALL' | 'CONTACT';
/** the consents a supporter can change from their data page */
export type ChangeablePurpose = Exclude<ConsentPurpose, 'COUNT'>;

export interface MyDataSignature {
	id: string;
	action: { slug: string; title: string };
	status: SignatureStatus;
	country: string;
	locale: string;
	createdAt: string;
	confirmedAt: string | null;
	letterSubject: string | null;
	letterBody: string | null;
	consents: { named: boolean; wall: boolean; namedToOwnCountry: boolean };
}

export interface ConsentRecord {
	/** one of ConsentPurpose; other values are shown as they are */
	purpose: string;
	granted: boolean;
	wordingVersion: string | number;
	createdAt: string;
	actionSlug: string | null;
}

export interface MyDataExport {
	exportedAt: string;
	supporter: {
		/** null once erased */
		email: string | null;
		firstName: string | null;
		lastName: string | null;
		country: string | null;
		locale: string | null;
		createdAt: string;
		unsubscribedAt: string | null;
	};
	signatures: MyDataSignature[];
	consentHistory: ConsentRecord[];
}

export interface ConsentChange {
	/** absent for CONTACT, which belongs to the supporter */
	signatureId?: string;
	purpose: ChangeablePurpose;
	granted: boolean;
}

export interface EraseResult {
	status: 'erased';
}

export interface ApiIssue {
	path: string;
	message: string;
}

export interface ApiErrorBody {
	statusCode: number;
	error: string;
	code: string;
	message: string;
	issues?: ApiIssue[];
}

export type ApiResult<T> =
	| { ok: true; status: number; data: T; headers?: Headers }
	| { ok: false; status: number; body: ApiErrorBody };

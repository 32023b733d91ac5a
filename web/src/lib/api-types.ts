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

export interface ActionDetail extends ActionSummary {
	signingOpen: boolean;
	locale: string;
	body: string;
	letterSubject: string | null;
	letterBody: string | null;
	/** suggested text for share links, if the campaigners wrote one */
	shareText?: string | null;
	countries: { country: string; count: number }[];
	targets: ActionTarget[];
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
	consentWall: boolean;
	consentContact: boolean;
	locale: string;
	source?: string;
	/** honeypot, passed through as typed */
	website: string;
}

export interface SignAccepted {
	status: 'received';
}

export interface ConfirmationState {
	status: 'pending' | 'confirmed';
	action: { slug: string; title: string };
}

export interface ConfirmationResult {
	status: 'confirmed' | 'already_confirmed';
	action: { slug: string; title: string };
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
	| { ok: true; status: number; data: T }
	| { ok: false; status: number; body: ApiErrorBody };

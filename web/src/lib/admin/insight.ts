// Shapes of the dashboard, fraud and export answers of the staff API (server/src/insight).
export type Range = 'minute' | 'hour' | 'day';

export function parseRange(value: string | null): Range {
	return value === 'minute' || value === 'day' ? value : 'hour';
}

export interface Counts {
	confirmed: number;
	pending: number;
	invalidated: number;
}

export interface Totals extends Counts {
	counted: number;
	confirmationRate: number | null;
}

export interface ActionLine extends Totals {
	id: string;
	slug: string;
	title: string;
	kind: 'PETITION' | 'LETTER';
	status: 'DRAFT' | 'PUBLISHED' | 'CLOSED' | 'ARCHIVED';
	goal: number;
}

export interface Dashboard {
	generatedAt: string;
	range: Range;
	totals: Totals;
	series: ({ at: string } & Counts)[];
	countries: { country: string; count: number }[];
	sources: { source: string; count: number }[];
	delivery: {
		batches: number;
		letters: { pending: number; submitting: number; sent: number; failed: number; bounced: number };
		signaturesDelivered: number;
		opened: number;
		waiting: number;
		lastBatchAt: string | null;
	};
}

export interface OverallDashboard extends Dashboard {
	actions: ActionLine[];
}

export interface LedgerEntry {
	date: string;
	target: { name: string; organisation: string };
	count: number;
	accepted: boolean;
	bounced: boolean;
	opened: boolean;
	answered: boolean;
	status: 'PENDING' | 'SUBMITTING' | 'SENT' | 'FAILED' | 'BOUNCED';
}

export interface ActionDashboard extends Dashboard {
	action: ActionLine;
	ledger: LedgerEntry[];
}

export interface FraudPreview {
	count: number;
	asOf: string;
	sample: {
		id: string;
		actionSlug: string;
		createdAt: string;
		status: 'PENDING' | 'CONFIRMED';
		firstName: string | null;
		emailDomain: string | null;
		country: string;
		source: string | null;
		ipHash: string | null;
		netHash: string | null;
	}[];
	clusters: Record<'ipHash' | 'netHash' | 'emailDomain', { value: string; count: number }[]>;
}

export interface WallEntry {
	signatureId: string;
	firstName: string;
	country: string;
	confirmedAt: string;
	hiddenAt: string | null;
}

export interface ExportJob {
	id: string;
	kind: 'SIGNATURES' | 'LETTERS';
	status: 'RUNNING' | 'DONE' | 'FAILED' | 'EXPIRED';
	filter: Record<string, unknown>;
	total: number;
	rowsDone: number;
	error: string | null;
	createdAt: string;
	finishedAt: string | null;
	staffEmail: string | null;
	fileName: string;
}

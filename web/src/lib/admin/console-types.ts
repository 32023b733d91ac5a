// Shapes of the staff API's answers for actions and targets (types only), as the console uses them.
import type { ActionKind, ActionStatus } from '$lib/api-types';

export type TargetKind = 'GOVERNMENT' | 'MINISTRY' | 'PROSECUTOR' | 'EMBASSY' | 'IGO' | 'UN_MECHANISM';
export const TARGET_KINDS: readonly TargetKind[] = ['GOVERNMENT', 'MINISTRY', 'PROSECUTOR', 'EMBASSY', 'IGO', 'UN_MECHANISM'];
export const ACTION_STATUSES: readonly ActionStatus[] = ['DRAFT', 'PUBLISHED', 'CLOSED', 'ARCHIVED'];
export const CONSOLE_LOCALES = ['en', 'es', 'fr', 'ru'] as const;

export interface StaffActionItem {
	id: string;
	slug: string;
	kind: ActionKind;
	status: ActionStatus;
	title: string;
	campaign: string;
	defaultLocale: string;
	locales: string[];
	goal: number;
	confirmed: number;
	pending: number;
	targetCount: number;
	signingEnabled: boolean;
	updatedAt: string;
}

export interface StaffActionList {
	actions: StaffActionItem[];
	statusCounts: Record<string, number>;
	signingPausedAll: boolean;
	campaigns: { slug: string; name: string }[];
}

export interface StaffActionText {
	locale: string;
	title: string;
	summary: string;
	body: string;
	letterSubject: string;
	letterBody: string;
	shareText: string;
}

export interface StaffTargetSummary {
	id: string;
	name: string;
	title: string;
	organisation: string;
	kind: TargetKind;
	country: string | null;
	email: string;
	language: string;
	contactStatus: 'OK' | 'STALE';
	disabled: boolean;
}

export interface StaffActionDetail extends StaffActionItem {
	milestones: number[];
	targetMode: 'FIXED' | 'BY_SIGNER_COUNTRY';
	allowPersonalisation: boolean;
	maxLetterLength: number;
	replyTo: string | null;
	deliveryPolicy: string;
	deliveryEveryN: number;
	deliveryPaused: boolean;
	publishedAt: string | null;
	closedAt: string | null;
	archivedAt: string | null;
	createdAt: string;
	texts: StaffActionText[];
	targets: StaffTargetSummary[];
	signingPausedAll: boolean;
	nextStatuses: ActionStatus[];
}

export interface LetterPreview {
	sample: { newCount: number; totalCount: number };
	previews: { target: StaffTargetSummary; locale: string; subject: string; text: string }[];
}

export interface StaffTarget extends StaffTargetSummary {
	slug: string;
	timezone: string;
	officeHours: string;
	salutation: string;
	lastVerifiedAt: string | null;
	bounceCount: number;
	notes: string;
	actions: { id: string; slug: string; status: ActionStatus }[];
	updatedAt: string;
}

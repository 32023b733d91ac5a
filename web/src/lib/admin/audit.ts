// The audit log in words: what an entry changed, each field by its label in the console's
// language and each value as a word (a status, yes or no, a date, a language, a count), the raw
// value only where it is free text someone typed (a name, a reason, an address).
import type { Locale } from '$shared/locales';
import { formatMessage, formatNumber, hasMessage, type MessageKey } from '../i18n/format.ts';
import { languageName } from './language.ts';
import { consoleTime } from './time.ts';
import { countryName } from '../country-name.ts';

export interface AuditEntryLike {
	entity: string;
	before: unknown;
	after: unknown;
}

/** One line of an entry: a field that changed (before and after), or a fact it records (value). */
export type AuditLine = { field: string; label: string; before: string; after: string } | { field: string; label: string; value: string };

/** Each field's label: a key of the console's catalogue (a form's own label where the console has one). */
const LABELS: Record<string, MessageKey> = {
	id: 'shell.audit_field_id',
	slug: 'actions.field_slug',
	kind: 'actions.field_kind',
	status: 'actions.field_status',
	defaultLocale: 'actions.field_default_locale',
	goal: 'actions.field_goal',
	milestones: 'actions.field_milestones',
	signingEnabled: 'actions.col_signing',
	targetMode: 'actions.field_target_mode',
	allowPersonalisation: 'actions.field_personalisation',
	maxLetterLength: 'actions.field_max_letter',
	replyTo: 'actions.field_reply_to',
	texts: 'shell.audit_field_texts',
	targetIds: 'actions.col_targets',
	policy: 'deliveries.field_policy',
	everyN: 'shell.audit_field_every_n',
	paused: 'shell.audit_field_paused',
	batchId: 'shell.audit_field_batch',
	signatureCount: 'shell.audit_field_signature_count',
	letters: 'shell.audit_field_letters',
	attempts: 'deliveries.col_attempts',
	lastError: 'deliveries.col_error',
	publicSummary: 'shell.audit_field_public_summary',
	notificationsOwed: 'shell.audit_field_notifications_owed',
	name: 'targets.field_name',
	prefix: 'integrations.col_prefix',
	scopes: 'integrations.col_scopes',
	rateLimitPerMinute: 'integrations.col_limit',
	revokedAt: 'shell.audit_field_revoked_at',
	url: 'integrations.col_url',
	events: 'integrations.col_events',
	disabledAt: 'shell.audit_field_disabled_at',
	filter: 'shell.audit_field_filter',
	asOf: 'shell.audit_field_as_of',
	matched: 'shell.audit_field_matched',
	shown: 'shell.audit_field_shown',
	invalidated: 'shell.audit_field_invalidated',
	uncounted: 'shell.audit_field_uncounted',
	reason: 'shell.audit_field_reason',
	actionId: 'shell.audit_field_action',
	wallHiddenAt: 'shell.audit_field_wall_hidden_at',
	from: 'shell.audit_field_from',
	to: 'shell.audit_field_to',
	country: 'targets.field_country',
	includePersonal: 'shell.audit_field_include_personal',
	emailsWithoutConsent: 'shell.audit_field_without_consent',
	rows: 'shell.audit_field_rows',
	apiKey: 'shell.audit_field_api_key',
	title: 'targets.field_title',
	organisation: 'targets.field_organisation',
	names: 'shell.audit_field_names',
	nameIsOfficial: 'shell.audit_field_name_is_official',
	email: 'targets.field_email',
	language: 'targets.field_language',
	timezone: 'targets.field_timezone',
	officeHours: 'targets.field_office_hours',
	salutation: 'targets.field_salutation',
	lastVerifiedAt: 'targets.field_last_verified',
	contactStatus: 'targets.field_contact_status',
	bounceCount: 'shell.audit_field_bounces',
	notes: 'targets.field_notes',
	disabled: 'shell.audit_field_disabled',
	role: 'shell.field_role',
	totpEnabled: 'shell.audit_field_two_step',
	twoStep: 'shell.audit_field_two_step',
	emailDomain: 'fraud.field_domain',
	namePattern: 'fraud.field_name',
	ipTyped: 'shell.audit_field_ip_typed',
	networkTyped: 'shell.audit_field_network_typed',
	ipHash: 'shell.audit_field_ip_hash',
	netHash: 'shell.audit_field_net_hash',
	count: 'shell.audit_field_count'
};

/** Labels that read differently on one kind of record. */
const ENTITY_LABELS: Record<string, Record<string, MessageKey>> = {
	staff_user: { name: 'shell.field_name', email: 'shell.field_email' },
	api_key: { name: 'integrations.col_name' },
	export: { kind: 'exports.field_kind', status: 'exports.field_status' },
	signature: { status: 'shell.audit_field_signature_status' },
	target: { kind: 'targets.field_kind' }
};

/** The fields whose value is a word chosen by a code: the catalogue keys to try, in order. */
function codeKeys(entity: string, field: string, value: string, record: Record<string, unknown>): string[] {
	switch (field) {
		case 'status':
			if (entity === 'action') return [`actions.status_${value}`];
			if (entity === 'answer') return [`answers.status_${value}`];
			if (entity === 'letter') return [`deliveries.status_${value}`];
			if (entity === 'webhook_delivery') return [`integrations.hook_status_${value}`];
			if (entity === 'export') return record.kind === 'LETTERS' ? [`exports.letter_status_${value}`] : [`exports.sig_status_${value}`];
			return [`exports.sig_status_${value}`, `actions.status_${value}`];
		case 'kind':
			if (entity === 'target') return [`targets.kind_${value}`];
			if (entity === 'export') return [`exports.kind_${value}`];
			return [`actions.kind_${value}`];
		case 'targetMode':
			return [`actions.target_mode_${value}`];
		case 'policy':
			return value === 'EVERY_N' ? ['deliveries.policy_EVERY_N_plain'] : [`deliveries.policy_${value}`];
		case 'contactStatus':
			return [`targets.status_${value}`];
		case 'role':
			return [`shell.role_${value}`];
		case 'scopes':
			return [`integrations.scope_${value}`];
		default:
			return [];
	}
}

const LANGUAGE_FIELDS = new Set(['defaultLocale', 'language']);
const COUNTED_FIELDS = new Set(['targetIds', 'shown']);
const MOMENT_FIELDS = new Set(['asOf', 'from', 'to']);
const ISO_MOMENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function fieldLabel(locale: Locale, entity: string, field: string): string {
	const key = ENTITY_LABELS[entity]?.[field] ?? LABELS[field];
	return key ? formatMessage(locale, key) : field;
}

/** The record's own name, where the entry carries one: an action's title in the console's language, else a name, slug, address. */
export function auditRecordName(locale: Locale, entry: AuditEntryLike): string | null {
	for (const side of [entry.after, entry.before]) {
		if (!isRecord(side)) continue;
		if (Array.isArray(side.texts)) {
			const texts = side.texts.filter((x): x is { locale: string; title: string } => isRecord(x) && typeof x.title === 'string' && x.title !== '');
			const text = texts.find((x) => x.locale === locale) ?? texts.find((x) => x.locale === side.defaultLocale) ?? texts[0];
			if (text) return text.title;
		}
		for (const k of ['title', 'name', 'slug', 'email', 'url']) if (typeof side[k] === 'string' && side[k]) return side[k] as string;
	}
	return null;
}

/** Whether the console has a label for the field (tests: every field the server audits has one). */
export function hasFieldLabel(field: string): boolean {
	return field in LABELS;
}


const shorten = (s: string) => (s.length > 80 ? `${s.slice(0, 79)}…` : s);

/** One value in words. */
export function auditValue(locale: Locale, entity: string, field: string, value: unknown, record: Record<string, unknown> = {}): string {
	if (value === null || value === undefined || value === '') return formatMessage(locale, 'shell.audit_empty');
	if (typeof value === 'boolean') return formatMessage(locale, value ? 'shell.audit_yes' : 'shell.audit_no');
	if (typeof value === 'number') return formatNumber(locale, value);
	if (Array.isArray(value)) {
		if (value.length === 0) return formatMessage(locale, 'shell.audit_empty');
		if (COUNTED_FIELDS.has(field)) return formatMessage(locale, 'shell.audit_count', { n: value.length });
		// an action's texts: the languages it has them in
		if (value.every((x) => isRecord(x) && typeof x.locale === 'string')) return value.map((x) => languageName(locale, (x as { locale: string }).locale)).join(', ');
		return shorten(value.map((x) => auditValue(locale, entity, field, x, record)).join(', '));
	}
	if (isRecord(value)) {
		// a target's names per language: the languages
		if (field === 'names') return Object.keys(value).map((l) => languageName(locale, l)).join(', ') || formatMessage(locale, 'shell.audit_empty');
		// a search's filter: each criterion in words (a fraud search's criteria are about signatures)
		const inner = field === 'filter' ? 'signature' : entity;
		return Object.entries(value)
			.filter(([, v]) => v !== undefined && v !== null && v !== '')
			.map(([k, v]) => formatMessage(locale, 'shell.audit_field_value', { field: fieldLabel(locale, inner, k), value: auditValue(locale, inner, k, v, value) }))
			.join('; ');
	}
	const text = String(value);
	for (const key of codeKeys(entity, field, text, record)) if (hasMessage(key)) return formatMessage(locale, key as MessageKey);
	if (LANGUAGE_FIELDS.has(field)) return languageName(locale, text);
	if (field === 'country') return countryName(locale, text);
	if (field === 'lastVerifiedAt') return consoleTime(locale, text, 'date') || text;
	if (MOMENT_FIELDS.has(field) || field.endsWith('At') || ISO_MOMENT.test(text)) return consoleTime(locale, text) || shorten(text);
	return shorten(text);
}

/**
 * What an entry says, line by line: each top-level field whose value differs between before and
 * after, and each field only one side has as a plain fact.
 */
export function auditLines(locale: Locale, entry: AuditEntryLike): AuditLine[] {
	const before = isRecord(entry.before) ? entry.before : null;
	const after = isRecord(entry.after) ? entry.after : null;
	if (!before && !after) return [];
	const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].filter((k) => k !== 'updatedAt');
	const lines: AuditLine[] = [];
	for (const field of fields) {
		const label = fieldLabel(locale, entry.entity, field);
		const inBefore = before !== null && Object.hasOwn(before, field);
		const inAfter = after !== null && Object.hasOwn(after, field);
		if (inBefore && inAfter) {
			if (JSON.stringify(before[field]) === JSON.stringify(after[field])) continue;
			lines.push({
				field,
				label,
				before: auditValue(locale, entry.entity, field, before[field], before),
				after: auditValue(locale, entry.entity, field, after[field], after)
			});
		} else {
			const side = inAfter ? after! : before!;
			lines.push({ field, label, value: auditValue(locale, entry.entity, field, side[field], side) });
		}
	}
	return lines;
}

// The versions of the words a person agrees to, as each consent records them (consent_events
// .wording_version). A version names where the words were shown and the month they were
// written: when the words of a choice change, its version changes too, and the "my data" page
// (web/src/lib/consent-wording.ts) gets the new version's words beside the old ones.

/** The signing form's choices (the action page and the embedded form). */
export const CONSENT_WORDING_VERSION = 'sign-2026-11';
/** The unsubscribe page and the one-click unsubscribe of every member email. */
export const UNSUBSCRIBE_WORDING_VERSION = 'unsubscribe-2026-11';
/** The buttons of the "my data" page. */
export const SELF_SERVICE_WORDING_VERSION = 'self-service-2026-11';

/** Where each version's words were shown, and the month they were written (YYYY-MM). */
export const CONSENT_WORDINGS = {
  [CONSENT_WORDING_VERSION]: { place: 'sign', month: '2026-11' },
  [UNSUBSCRIBE_WORDING_VERSION]: { place: 'unsubscribe', month: '2026-11' },
  [SELF_SERVICE_WORDING_VERSION]: { place: 'self-service', month: '2026-11' },
} as const satisfies Record<string, { place: 'sign' | 'unsubscribe' | 'self-service'; month: string }>;

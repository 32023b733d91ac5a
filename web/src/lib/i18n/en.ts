// English: the source dictionary. Every other locale must provide exactly these keys
// (TypeScript enforces it through the Messages type below).
//
// Plain strings may use {name} placeholders. Plural messages are objects keyed by the
// Intl.PluralRules categories of the locale (`other` is always required); the number
// chosen by the caller is available as {count}, already formatted for the locale.

export type PluralForms = { readonly [K in Intl.LDMLPluralRule]?: string } & { readonly other: string };

export const en = {
	site_name: 'Chorus',
	site_tagline: 'Petitions and letters against torture',
	skip_link: 'Skip to main content',
	nav_language: 'Language',
	page_title: '{title} – Chorus',
	error_page_title: 'Error: {title} – Chorus',
	footer_about: 'Chorus is an open-source platform for petitions and letters to governments and international bodies, campaigning to end torture.',
	footer_privacy: 'This site loads nothing from other websites, sets no tracking cookies and uses no analytics.',
	all_actions: 'See all actions',

	kind_PETITION: 'Petition',
	kind_LETTER: 'Letter',
	campaign_label: 'Campaign: {name}',

	signatures: { one: '{count} signature', other: '{count} signatures' },
	progress_of_goal: { one: '{signed} of {count} signature', other: '{signed} of {count} signatures' },

	home_title: 'Act against torture',
	home_meta_description: 'Sign petitions and letters calling on governments to stop torture, investigate it and protect people at risk.',
	home_intro_1: 'Torture is banned everywhere under international law, yet it still happens in many countries. Add your name to petitions and letters that call on governments to stop it, to investigate it and to protect people at risk.',
	home_intro_2: 'Every signature is confirmed by email before it counts, and you decide whether your name is passed on to officials.',
	home_actions_heading: 'Current actions',
	home_no_actions: 'There are no open actions at the moment. Please come back soon.',

	action_jump_PETITION: 'Sign the petition',
	action_jump_LETTER: 'Add your name to the letter',
	action_content_lang_note: 'This action is not yet available in your language; it is shown in its original language.',
	action_letter_heading: 'The letter',
	action_letter_subject: 'Subject',
	action_targets_heading: 'Who receives this',
	action_countries_heading: 'Where signers come from',
	action_countries_intro: {
		one: 'People in {count} country have signed so far.',
		other: 'People in {count} countries have signed so far.'
	},
	action_closed_heading: 'This action is closed',
	action_closed_text: 'Signing has ended. Thank you to everyone who took part.',
	action_paused_heading: 'Signing is paused',
	action_paused_text: 'You cannot sign this action at the moment. Please come back later.',

	form_heading_PETITION: 'Sign the petition',
	form_heading_LETTER: 'Add your name to the letter',
	form_intro: 'Please fill in all the fields below.',
	field_firstName: 'First name',
	field_lastName: 'Last name',
	field_email: 'Email address',
	field_email_hint: 'We will send you a link to confirm your signature.',
	field_country: 'Country',
	field_country_choose: 'Choose your country',
	consents_legend: 'Your choices',
	consents_hint: 'Only the first box is needed to sign.',
	consent_count: 'Count my signature (required)',
	consent_named: 'Include my name in what officials receive',
	consent_wall: 'Show my first name and country on this page',
	consent_contact: 'Keep me informed by email',
	honeypot_label: 'Leave this field empty',
	privacy_note: 'Your email address is never shown publicly or given to officials. Your name is passed on only if you choose so above, and we email you about other actions only if you ask us to.',
	submit_PETITION: 'Sign the petition',
	submit_LETTER: 'Add my name',

	error_summary_title: 'There is a problem',
	err_firstName_required: 'Enter your first name',
	err_firstName_invalid: 'Enter your first name using no more than 100 characters, without < or >',
	err_lastName_required: 'Enter your last name',
	err_lastName_invalid: 'Enter your last name using no more than 100 characters, without < or >',
	err_email_required: 'Enter your email address',
	err_email_invalid: 'Enter an email address in the correct format, like name@example.com',
	err_country_required: 'Choose your country',
	err_consentCount_required: 'Tick “Count my signature” to sign',
	err_consent_invalid: 'This choice could not be saved; please tick or untick it again',
	err_form_generic: 'Something in the form could not be accepted. Check your answers and try again.',
	err_rate_limited: 'There have been too many attempts from your connection. Please wait a few minutes and try again.',

	check_title: 'Check your email',
	check_sent: 'We have sent a message to the address you gave, with a link to confirm your signature on “{title}”.',
	check_button: 'The link opens a page with a button. Your signature only counts once you press “Confirm my signature” on that page.',
	check_spam: 'If the message has not arrived within a few minutes, look in your spam or junk folder.',
	check_back: 'Back to “{title}”',

	confirm_title: 'Confirm your signature',
	confirm_intro: 'You are about to confirm your signature on:',
	confirm_note: 'Nothing is counted until you press the button.',
	confirm_button: 'Confirm my signature',
	confirm_already_title: 'Your signature is already confirmed',
	confirm_already_text: 'Thank you. Your signature on “{title}” already counts.',
	confirm_view_action: 'Go to the action',

	thanks_title: 'Thank you',
	thanks_title_confirmed: 'Thank you, your signature is confirmed',
	thanks_count_note: 'Your signature joins the count within a few seconds.',
	thanks_count: {
		one: 'So far {count} person has signed “{title}”.',
		other: 'So far {count} people have signed “{title}”.'
	},
	share_heading: 'Ask others to join',
	share_intro: 'Every voice adds pressure. Share this action:',
	share_email: 'Email',
	share_default_text: '{title}: add your voice',
	next_heading: 'Take the next action',
	next_none: 'There is no other open action right now.',

	error_title_404: 'Page not found',
	error_text_404: 'We could not find this page. Check the address, or go to the list of actions.',
	error_title_action_not_found: 'Action not found',
	error_text_action_not_found: 'This action does not exist or is no longer available.',
	error_title_invalid_link: 'This link does not work',
	error_text_invalid_link: 'This confirmation link is not valid. Check that you opened the whole link from the email.',
	error_title_link_expired: 'This link has expired',
	error_text_link_expired: 'Confirmation links only work for a limited time. Sign the action again and we will send you a new link.',
	error_title_429: 'Too many requests',
	error_text_429: 'There have been too many requests from your connection. Please wait a few minutes and try again.',
	error_title_503: 'Service temporarily unavailable',
	error_text_503: 'We cannot reach our service at the moment. Please try again in a few minutes.',
	error_title_generic: 'Something went wrong',
	error_text_generic: 'An error occurred on our side. Please try again later.',
	error_home_link: 'Go to the list of actions'
} as const satisfies Record<string, string | PluralForms>;

type Shape<T> = { readonly [K in keyof T]: T[K] extends string ? string : PluralForms };

/** The type every locale's dictionary must satisfy. */
export type Messages = Shape<typeof en>;

// The languages a target's name, title and organisation are held in besides English (the
// directory's own), as the API takes them (server/src/target/target-names.ts).
export const TARGET_NAME_LOCALES = ['es', 'fr', 'ru'] as const;
export type TargetNameLocale = (typeof TARGET_NAME_LOCALES)[number];

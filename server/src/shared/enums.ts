// The schema's enums (status names, kinds, purposes...) as constants and types, generated from
// prisma/schema.prisma. For code that must not load the database layer: the pages import them
// as $shared/enums (server code imports them from db/db.ts).
export * from '../generated/kysely/enums.ts';

/** Whether a value is one of an enum's, e.g. isEnumValue(LetterStatus, s). */
export function isEnumValue<E extends Record<string, string>>(e: E, value: unknown): value is E[keyof E] {
  return typeof value === 'string' && (Object.values(e) as unknown[]).includes(value);
}

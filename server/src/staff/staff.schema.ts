// Staff accounts: what the staff API accepts and answers. The same schemas validate the
// requests, type the service and document the OpenAPI.
import { z } from 'zod';
import { StaffRole } from '../db/db.ts';
import { lineText } from '../shared/text.ts';
import { isPlausibleEmail } from '../supporter/email.ts';

export { StaffRole };
/** Every staff role, as the schema lists them. */
export const STAFF_ROLES = Object.values(StaffRole);

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 200;

/** An email address: trimmed, lower-cased, no control characters (CR/LF), at most 254 characters. */
export const staffEmail = z
  .string({ error: (iss) => (iss.input === undefined ? 'Email is required' : 'Email must be text') })
  .max(1000, 'Email must be at most 254 characters')
  .transform((s) => s.trim().toLowerCase())
  .pipe(
    z
      .string()
      .min(1, 'Email is required')
      .max(254, 'Email must be at most 254 characters')
      .refine((s) => !/[\p{Cc}\s]/u.test(s), 'Email must not contain spaces or control characters')
      .refine(isPlausibleEmail, 'Email is not a valid address'),
  );

/** A new password; the "not the email address" rule needs the email and lives in the service. */
export const newPassword = z
  .string({ error: (iss) => (iss.input === undefined ? 'Password is required' : 'Password must be text') })
  .min(PASSWORD_MIN, `Password must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `Password must be at most ${PASSWORD_MAX} characters`);

export const totpCode = z
  .string({ error: 'TOTP code must be text' })
  .regex(/^[0-9]{6}$/, 'TOTP code must be 6 digits');

export const loginInputSchema = z.strictObject({
  email: staffEmail,
  // an existing password may predate the rules; only the length is bounded here
  password: z
    .string({ error: (iss) => (iss.input === undefined ? 'Password is required' : 'Password must be text') })
    .min(1, 'Password is required')
    .max(PASSWORD_MAX, `Password must be at most ${PASSWORD_MAX} characters`),
  totp: totpCode.optional(),
});
export type LoginInput = z.infer<typeof loginInputSchema>;

export const createUserInputSchema = z.strictObject({
  email: staffEmail,
  name: lineText(200, 'Name'),
  role: z.enum(StaffRole, { error: `Role must be one of ${STAFF_ROLES.join(', ')}` }),
  password: newPassword,
});
export type CreateUserInput = z.infer<typeof createUserInputSchema>;

export const resetPasswordInputSchema = z.strictObject({ password: newPassword });
export const totpConfirmInputSchema = z.strictObject({ totp: totpCode });

export const userIdParam = z.strictObject({ id: z.uuid('Id must be a UUID') });

export const staffUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(StaffRole),
  totpEnabled: z.boolean(),
});
export type StaffUserView = z.infer<typeof staffUserSchema>;

export const staffUserAdminSchema = staffUserSchema.extend({
  disabled: z.boolean(),
  lastLoginAt: z.string().nullable(),
  createdAt: z.string(),
});
export type StaffUserAdminView = z.infer<typeof staffUserAdminSchema>;

export const totpSetupSchema = z.object({
  secret: z.string().describe('base32 secret for the authenticator app'),
  otpauthUrl: z.string().describe('otpauth:// URL (for a QR code)'),
});

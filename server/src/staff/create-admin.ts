// Creates an ADMIN staff account; the way to make the first one.
//
//   CHORUS_ADMIN_PASSWORD='…' node --import tsx server/src/staff/create-admin.ts --email a@b.example --name "Name"
//
// The password comes only from CHORUS_ADMIN_PASSWORD, never from the command line (which
// other users of the machine can read in the process list and which lands in shell history).
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createDb } from '../db/db.ts';
import { AppError } from '../shared/errors.ts';
import { createUserInputSchema, StaffRole } from './staff.schema.ts';
import { createStaff } from './staff.service.ts';

const USAGE =
  'usage: CHORUS_ADMIN_PASSWORD=... node --import tsx server/src/staff/create-admin.ts --email <address> --name "<name>"';

export async function createAdmin(argv: string[], env: Record<string, string | undefined>): Promise<string> {
  const { values } = parseArgs({ args: argv, options: { email: { type: 'string' }, name: { type: 'string' } }, strict: true });
  const password = env.CHORUS_ADMIN_PASSWORD;
  if (!password) throw new Error(`CHORUS_ADMIN_PASSWORD must be set (the password is never taken from the command line)\n${USAGE}`);
  const parsed = createUserInputSchema.safeParse({ email: values.email, name: values.name, role: StaffRole.ADMIN, password });
  if (!parsed.success) throw new Error(`${z.prettifyError(parsed.error)}\n${USAGE}`);
  const db = createDb(env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/chorus', { max: 1, applicationName: 'chorus-create-admin' });
  try {
    const user = await createStaff({ pool: db.pool, clock: () => new Date() }, null, parsed.data);
    return `created ADMIN ${user.email} (${user.id})`;
  } catch (err) {
    if (err instanceof AppError && err.code === 'email_taken') throw new Error(`a staff account with the email ${parsed.data.email} already exists; nothing changed`);
    if (err instanceof AppError) throw new Error(err.message);
    throw err;
  } finally {
    await db.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  createAdmin(process.argv.slice(2), process.env).then(
    (msg) => console.log(msg),
    (err) => {
      console.error(`create-admin: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

// The console's words for what the API refused: one message per issue code
// (server/src/shared/issues.ts ISSUE_CODES), a few per field where the field says it better
// ("<field>.<code>"), and one per error code the console meets. They are the `issues.*`
// messages of ../messages/<locale>.json, read by lib/admin/problems.ts.
import { defineArea } from './dict';

export const issuesText = defineArea('issues');

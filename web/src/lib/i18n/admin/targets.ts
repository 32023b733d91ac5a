// The console's targets directory: list, search, add and edit, CSV import and export.
import { defineArea } from './dict';

export const targetsText = defineArea('targets');

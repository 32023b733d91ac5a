// The console's frame: navigation, sign-in, own account and two-step sign-in, staff accounts.
import { defineArea } from './dict';

export const shell = defineArea('shell');

// The deliveries area of the console: the list of actions with what is owed, paused or
// failed, and one action's delivery controls, preview and ledger.
import { defineArea } from './dict';

export const deliveries = defineArea('deliveries');

// Fraud and moderation: finding and invalidating signatures, and the public wall.
import { defineArea } from './dict';

export const fraud = defineArea('fraud');

// The answers area of the console: answers from officials awaiting review, publish or reject.
import { defineArea } from './dict';

export const answers = defineArea('answers');

// The queue view.
import { defineArea } from './dict';

export const queues = defineArea('queues');

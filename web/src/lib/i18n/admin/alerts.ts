// Abuse alerts: sources and client networks whose signing rate jumped.
import { defineArea } from './dict';

export const alerts = defineArea('alerts');

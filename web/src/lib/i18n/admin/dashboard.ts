// The dashboard: overview of every action and the dashboard of one action.
import { defineArea } from './dict';

export const dashboard = defineArea('dashboard');

// The integrations page: API keys for integrators and webhook endpoints.
import { defineArea } from './dict';

export const integrations = defineArea('integrations');

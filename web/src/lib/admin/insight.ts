// The dashboards' time step, as the console's links give it.
import type { Range } from '$lib/api/types';

export function parseRange(value: string | null): Range {
	return value === 'minute' || value === 'day' ? value : 'hour';
}

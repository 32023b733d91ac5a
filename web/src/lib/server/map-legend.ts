// The dashboard map's shades and its legend, apart from the shapes: the legend is worked out
// from the shading itself, so the two cannot disagree.

/** Five shades of the brand blue, lightest to darkest. The lightest is close to the no-data grey: the table beside the map carries the exact figures. */
export const SHADES = ['#c6dbef', '#8fb9dd', '#4f8fc4', '#1f65a3', '#083a66'] as const;
export const NO_DATA = '#e4e2dc';

/** Shade index 0..4 for a count, on a log scale up to the largest count (null: none). */
export function shadeOf(count: number, max: number): number | null {
	if (count <= 0 || max <= 0) return null;
	if (max === 1) return SHADES.length - 1;
	const t = Math.log(count) / Math.log(max);
	return Math.min(SHADES.length - 1, Math.floor(t * SHADES.length));
}

/** A legend entry: the shade, and the smallest count shown in it. */
export interface LegendEntry {
	fill: string;
	from: number;
}

/**
 * The legend for a largest count: for each shade some country can have, the smallest count that
 * gets it (from shadeOf itself, so the legend says what the map shows). Shades no whole count
 * reaches are left out: with a largest count of 2, a 1 is the lightest and a 2 the darkest.
 */
export function mapLegend(max: number): LegendEntry[] {
	const legend: LegendEntry[] = [];
	if (max <= 0) return legend;
	for (let i = 0; i < SHADES.length; i++) {
		// the threshold of shade i on the log scale, then corrected for rounding either way
		let from = max === 1 ? 1 : Math.max(1, Math.ceil(Math.exp((i / SHADES.length) * Math.log(max))));
		while (from > 1 && shadeOf(from - 1, max) === i) from--;
		while (from < max && shadeOf(from, max)! < i) from++;
		if (shadeOf(from, max) !== i) continue;
		legend.push({ fill: SHADES[i]!, from });
	}
	return legend;
}

// The country map of the dashboard, drawn on our server: Natural Earth's 1:110m country
// shapes from the world-atlas package (TopoJSON, bundled into the build), turned into SVG
// paths with topojson-client and d3-geo's Equal Earth projection. No map service, no tile,
// nothing from another origin. The paths do not depend on the figures, so they are made
// once per process; a request only picks a shade per country.
import { geoEqualEarth, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import world from 'world-atlas/countries-110m.json';
import { NUMERIC_TO_ALPHA2 } from './iso-numeric';
import { mapLegend, NO_DATA, SHADES, shadeOf, type LegendEntry } from './map-legend';

export const MAP_WIDTH = 960;
export const MAP_HEIGHT = 470;

export interface CountryShape {
	/** ISO 3166-1 alpha-2, or '' for shapes without a code (Northern Cyprus, Somaliland) */
	code: string;
	d: string;
}

// shapes that Natural Earth names but gives no ISO numeric code
const BY_NAME: Record<string, string> = { Kosovo: 'XK' };

let shapes: CountryShape[] | undefined;

export function worldShapes(): CountryShape[] {
	if (shapes) return shapes;
	const topology = world as unknown as Topology<{ countries: GeometryCollection<{ name: string }> }>;
	const countries = feature(topology, topology.objects.countries);
	const projection = geoEqualEarth().fitSize([MAP_WIDTH, MAP_HEIGHT], countries);
	const path = geoPath(projection).digits(1);
	shapes = countries.features
		.map((f) => ({
			code: (f.id !== undefined ? NUMERIC_TO_ALPHA2[String(f.id)] : undefined) ?? BY_NAME[f.properties?.name ?? ''] ?? '',
			d: path(f) ?? ''
		}))
		.filter((s) => s.d !== '');
	return shapes;
}

export interface MapData {
	width: number;
	height: number;
	shapes: { code: string; d: string; fill: string; count: number }[];
	/** the legend: lower bound of each shade */
	legend: LegendEntry[];
}

/** The map for these counts: every country's path with its fill. */
export function countryMap(counts: { country: string; count: number }[]): MapData {
	const by = new Map(counts.map((c) => [c.country, c.count]));
	const max = Math.max(0, ...counts.map((c) => c.count));
	const legend = mapLegend(max);
	return {
		width: MAP_WIDTH,
		height: MAP_HEIGHT,
		shapes: worldShapes().map((s) => {
			const count = by.get(s.code) ?? 0;
			const shade = shadeOf(count, max);
			return { code: s.code, d: s.d, count, fill: shade === null ? NO_DATA : SHADES[shade]! };
		}),
		legend
	};
}

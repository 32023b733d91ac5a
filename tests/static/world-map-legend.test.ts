// The dashboard map's legend says what the map shows: every count gets the fill of the legend
// entry it falls under ("≥ from"), at small counts (where the log scale's shades collapse) and
// large ones.
import { describe, expect, it } from 'vitest';
import { mapLegend, SHADES, shadeOf } from '../../web/src/lib/server/map-legend.ts';

/** The fill a reader of the legend expects for a count: the last entry whose `from` it reaches. */
function legendFill(legend: { fill: string; from: number }[], count: number): string | undefined {
  return legend.filter((l) => l.from <= count).at(-1)?.fill;
}

describe('the dashboard map legend', () => {
  it('has no entries without counts', () => {
    expect(mapLegend(0)).toEqual([]);
  });

  it('agrees with the map for every count up to the largest, for largest counts 1 to 300', () => {
    for (let max = 1; max <= 300; max++) {
      const legend = mapLegend(max);
      expect(legend[0]?.from, `max ${max}`).toBe(1);
      for (let i = 1; i < legend.length; i++) expect(legend[i]!.from, `max ${max}`).toBeGreaterThan(legend[i - 1]!.from);
      for (let count = 1; count <= max; count++) {
        expect(legendFill(legend, count), `count ${count} of ${max}`).toBe(SHADES[shadeOf(count, max)!]);
      }
    }
  });

  it('agrees at each boundary for large counts', () => {
    for (const max of [999, 1_000, 12_345, 250_000, 1_000_000]) {
      const legend = mapLegend(max);
      expect(legend.map((l) => l.fill)).toEqual([...SHADES]);
      for (const { from } of legend) {
        for (const count of [from - 1, from, from + 1].filter((c) => c >= 1 && c <= max)) {
          expect(legendFill(legend, count), `count ${count} of ${max}`).toBe(SHADES[shadeOf(count, max)!]);
        }
      }
      expect(legendFill(legend, max)).toBe(SHADES.at(-1));
    }
  });

  it('shows a single country with one signature in the darkest shade, as the map does', () => {
    expect(mapLegend(1)).toEqual([{ fill: SHADES.at(-1), from: 1 }]);
    expect(mapLegend(2)).toEqual([
      { fill: SHADES[0], from: 1 },
      { fill: SHADES.at(-1), from: 2 },
    ]);
  });
});

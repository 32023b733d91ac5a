import { describe, expect, it } from 'vitest';
import { isOfficeOpen, nextOfficeOpening } from './office-hours.ts';

const tashkent = { timezone: 'Asia/Tashkent', opensAt: 9 * 60, closesAt: 17 * 60 }; // UTC+5, no DST
const geneva = { timezone: 'Europe/Zurich', opensAt: 9 * 60, closesAt: 17 * 60 };

describe('office hours', () => {
  it('knows when an office in another timezone is open', () => {
    expect(isOfficeOpen(new Date('2026-12-02T05:00:00Z'), tashkent)).toBe(true); // Wed 10:00 local
    expect(isOfficeOpen(new Date('2026-12-02T13:00:00Z'), tashkent)).toBe(false); // Wed 18:00 local
    expect(isOfficeOpen(new Date('2026-12-05T05:00:00Z'), tashkent)).toBe(false); // Saturday
  });

  it('returns the moment itself when the office is open', () => {
    const at = new Date('2026-12-02T05:30:00Z');
    expect(nextOfficeOpening(at, tashkent)).toEqual(at);
  });

  it('waits for the next opening after hours', () => {
    expect(nextOfficeOpening(new Date('2026-12-02T13:00:00Z'), tashkent)).toEqual(new Date('2026-12-03T04:00:00Z'));
  });

  it('skips the weekend', () => {
    expect(nextOfficeOpening(new Date('2026-12-04T20:00:00Z'), tashkent)).toEqual(new Date('2026-12-07T04:00:00Z'));
  });

  it('follows daylight saving time', () => {
    // Geneva: 09:00 is 08:00 UTC in winter and 07:00 UTC in summer
    expect(nextOfficeOpening(new Date('2026-12-01T18:00:00Z'), geneva)).toEqual(new Date('2026-12-02T08:00:00Z'));
    expect(nextOfficeOpening(new Date('2026-07-01T18:00:00Z'), geneva)).toEqual(new Date('2026-07-02T07:00:00Z'));
  });
  it('finds an opening just after midnight, however short the office day', () => {
    const night = { timezone: 'UTC', opensAt: 0, closesAt: 1 };
    expect(nextOfficeOpening(new Date('2026-12-02T23:41:30Z'), night)).toEqual(new Date('2026-12-03T00:00:00Z'));
    const early = { timezone: 'UTC', opensAt: 20, closesAt: 21 };
    expect(nextOfficeOpening(new Date('2026-12-02T22:07:00Z'), early)).toEqual(new Date('2026-12-03T00:20:00Z'));
  });
});

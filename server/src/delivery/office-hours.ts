// When an official's office is open: office hours are kept per target in the target's own
// timezone, Monday to Friday. Pure functions of a clock, so tests can fix the time.

const WEEKDAYS = new Set(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']);

interface LocalTime {
  weekday: string;
  minutes: number;
}

function localTime(at: Date, timeZone: string): LocalTime {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '0';
  return { weekday: get('weekday'), minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

export interface OfficeHours {
  timezone: string;
  opensAt: number;
  closesAt: number;
}

export function isOfficeOpen(at: Date, office: OfficeHours): boolean {
  const t = localTime(at, office.timezone);
  return WEEKDAYS.has(t.weekday) && t.minutes >= office.opensAt && t.minutes < office.closesAt;
}

/**
 * The first moment at or after `from` when the office is open, to the minute. Walks forward
 * minute by minute over at most eight days, jumping to the next whole hour while far away;
 * cheap enough for one call per letter, and right across daylight-saving changes.
 */
export function nextOfficeOpening(from: Date, office: OfficeHours): Date {
  let at = new Date(Math.ceil(from.getTime() / 60_000) * 60_000);
  if (isOfficeOpen(from, office)) return from;
  const limit = from.getTime() + 8 * 24 * 3_600_000;
  while (at.getTime() < limit) {
    if (isOfficeOpen(at, office)) return at;
    const t = localTime(at, office.timezone);
    // minutes until the opening minute comes round again (across midnight too)
    const minutesToOpening = (((office.opensAt - t.minutes) % 1440) + 1440) % 1440;
    // far from the opening minute: jump in big steps, then walk the last hour minute by minute
    const step = minutesToOpening > 60 ? 30 : 1;
    at = new Date(at.getTime() + step * 60_000);
  }
  return from;
}

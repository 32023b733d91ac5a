// A strict reader of Prometheus's text exposition format (version 0.0.4), for the tests of the
// metrics endpoints: it throws, naming the line, on anything Prometheus would refuse or
// misread (a malformed sample or label, an unescaped quote, a TYPE after its samples, a family
// split in two, a series twice, a histogram whose buckets do not add up), and answers the
// families it read.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | null;
  samples: Sample[];
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** A float as Prometheus reads one (Go's ParseFloat: NaN and Inf in any case, with a sign). */
function parseValue(text: string, where: string): number {
  const special = /^([-+]?)(nan|inf|infinity)$/i.exec(text);
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: "${text}" is not a number`);
  return Number(text);
}

/** Reads `{a="x",b="y"}` from the start of `s`; answers the labels and the rest of the line. */
function parseLabels(s: string, where: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (s[i] === ' ') i++;
    if (s[i] === '}') return { labels, rest: s.slice(i + 1) };
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: a label without "="`);
    const name = s.slice(i, eq).trim();
    if (!LABEL.test(name)) throw new Error(`${where}: "${name}" is not a label name`);
    if (name in labels) throw new Error(`${where}: label ${name} given twice`);
    if (s[eq + 1] !== '"') throw new Error(`${where}: the value of label ${name} is not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\') {
        const next = s[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`${where}: unknown escape \\${next} in label ${name}`);
      } else value += s[j];
    }
    if (j >= s.length) throw new Error(`${where}: the value of label ${name} is not closed`);
    labels[name] = value;
    i = j + 1;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`${where}: expected "," or "}" after label ${name}`);
  }
}

/** The family a sample belongs to: a histogram's or summary's _bucket, _sum and _count are its own. */
function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  const own = families.get(sample);
  if (own) return own;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
  const base = m ? families.get(m[1]!) : undefined;
  if (!base) return undefined;
  if (base.type === 'histogram') return base;
  if (base.type === 'summary' && m![2] !== 'bucket') return base;
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a line break');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: Family | null = null;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line.trim() === '') return;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (line.startsWith('#')) {
      if (!meta) return; // a comment
      const [, kind, name, rest = ''] = meta;
      if (!METRIC.test(name!)) throw new Error(`${where}: "${name}" is not a metric name`);
      let family = families.get(name!);
      if (family && (family.samples.length > 0 || closed.has(name!))) throw new Error(`${where}: ${kind} of ${name} after its samples`);
      if (!family) {
        family = { name: name!, type: 'untyped', help: null, samples: [] };
        families.set(name!, family);
      }
      if (kind === 'TYPE') {
        if (!TYPES.has(rest.trim())) throw new Error(`${where}: unknown type "${rest}"`);
        family.type = rest.trim() as Family['type'];
      } else {
        if (family.help !== null) throw new Error(`${where}: a second HELP for ${name}`);
        family.help = rest.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
      if (current && current !== family) closed.add(current.name);
      current = family;
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: a sample without a value`);
    const name = line.slice(0, nameEnd);
    if (!METRIC.test(name)) throw new Error(`${where}: "${name}" is not a metric name`);
    let rest = line.slice(nameEnd);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, where));
    const parts = rest.trim().split(/\s+/);
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`${where}: expected a value (and at most a timestamp) after the labels`);
    const value = parseValue(parts[0]!, where);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: "${parts[1]}" is not a timestamp`);
    let family = familyOf(name, families);
    if (!family) {
      family = { name, type: 'untyped', help: null, samples: [] };
      families.set(name, family);
    }
    if (closed.has(family.name)) throw new Error(`${where}: samples of ${family.name} are not together`);
    if (current && current !== family) closed.add(current.name);
    current = family;
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: the series ${key} appears twice`);
    series.add(key);
    family.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** Buckets rise with `le`, never fall, end at +Inf, and +Inf equals _count, for each label set. */
function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...others } = s.labels;
    const key = JSON.stringify(Object.entries(others).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push([parseValue(le, f.name), s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name} in a histogram`);
  }
  for (const [key, g] of groups) {
    const les = g.buckets.map(([le]) => le);
    if (les.some((le, i) => i > 0 && le <= les[i - 1]!)) throw new Error(`${f.name}${key}: buckets not in rising order`);
    if (g.buckets.some(([, v], i) => i > 0 && v < g.buckets[i - 1]![1])) throw new Error(`${f.name}${key}: bucket counts fall`);
    if (les.at(-1) !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined) throw new Error(`${f.name}${key}: no _count or _sum`);
    if (g.buckets.at(-1)![1] !== g.count) throw new Error(`${f.name}${key}: the +Inf bucket is not _count`);
  }
}

/** The value of the one sample of `name` whose labels include `labels` (0 when none has them yet). */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = familyOf(name, families);
  const matches = (family?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${matches.length} series`);
  return matches[0]?.value ?? 0;
}

/** The sum of every sample of `name` whose labels include `labels`, and how many there were. */
export function sumOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): { sum: number; series: number } {
  const family = familyOf(name, families);
  const matches = (family?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return { sum: matches.reduce((a, s) => a + s.value, 0), series: matches.length };
}

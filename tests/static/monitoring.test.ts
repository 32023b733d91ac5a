// The monitoring files in deploy/ against the metrics the code defines: the alert rules
// (deploy/prometheus/alerts.yml), the scrape configuration beside them and the Grafana dashboard
// (deploy/grafana/chorus.json) parse, and every metric and label their expressions use exists
// in the registry (server/src/shared/metrics.ts), so renaming a metric or a label without them
// fails here. promtool (Debian's `prometheus` package) checks the rules and runs their unit
// tests (alerts.test.yml) when it is installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { enableDefaultMetrics, registerScrapeGauges, registry } from '../../server/src/shared/metrics.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

// every metric the processes can serve: the default process metrics and the workers' scrape-time gauges too
enableDefaultMetrics();
registerScrapeGauges({ queues: [], lettersByState: async () => ({}) });
afterAll(() => {
  for (const name of ['chorus_queue_jobs', 'chorus_queue_oldest_waiting_seconds', 'chorus_letters']) registry.removeSingleMetric(name);
});

/** name -> its labels, as the registry defines them (a histogram's _bucket, _sum and _count are its own) */
function registryMetrics(): Map<string, { type: string; labels: Set<string> }> {
  const out = new Map<string, { type: string; labels: Set<string> }>();
  for (const m of registry.getMetricsAsArray()) {
    // prom-client keeps both on each metric object (not in its typings)
    const { labelNames, type = 'untyped' } = m as unknown as { labelNames?: string[]; type?: string };
    const labels = new Set<string>(labelNames ?? []);
    out.set(m.name, { type, labels });
    if (type === 'histogram') {
      out.set(`${m.name}_bucket`, { type, labels: new Set([...labels, 'le']) });
      out.set(`${m.name}_sum`, { type, labels });
      out.set(`${m.name}_count`, { type, labels });
    }
  }
  return out;
}

/** labels Prometheus adds to every series (job and instance) and those the scrape config adds */
const TARGET_LABELS = new Set(['job', 'instance', 'installation']);
/** series Prometheus itself makes for each target */
const PROMETHEUS_SERIES = new Set(['up']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan']);

/**
 * The metric names and labels a PromQL expression uses: selectors (`name{label="x"}`), and
 * the labels of `by (...)`/`without (...)` groupings. Strings, ranges and Grafana's
 * variables are taken out first; anything followed by "(" is a function.
 */
export function promqlUses(expr: string): { metrics: string[]; selectorLabels: { metric: string; label: string }[]; groupLabels: string[] } {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""').replace(/\[[^\]]*\]/g, '');
  const groupLabels: string[] = [];
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, _kw: string, list: string) => {
    groupLabels.push(...list.split(',').map((l) => l.trim()).filter(Boolean));
    return ' ';
  });
  const selectorLabels: { metric: string; label: string }[] = [];
  e = e.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_, metric: string | undefined, body: string) => {
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) selectorLabels.push({ metric: metric ?? '', label: m[1]! });
    return ` ${metric ?? ''} `;
  });
  const metrics: string[] = [];
  for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, word, call] = m;
    if (call || KEYWORDS.has(word!.toLowerCase()) || /^\d/.test(word!)) continue;
    // a number like 1e3 or a duration unit left over is not a name
    if (/^(?:e\d+|[smhdwy])$/.test(word!)) continue;
    metrics.push(word!);
  }
  return { metrics, selectorLabels, groupLabels };
}

function checkExpression(where: string, expr: string, known: ReturnType<typeof registryMetrics>): string[] {
  const problems: string[] = [];
  const uses = promqlUses(expr);
  if (uses.metrics.length === 0) problems.push(`${where}: no metric found in ${expr}`);
  const labelsInScope = new Set<string>(TARGET_LABELS);
  for (const name of uses.metrics) {
    if (PROMETHEUS_SERIES.has(name)) continue;
    const metric = known.get(name);
    if (!metric) problems.push(`${where}: ${name} is not a metric of the registry`);
    else for (const l of metric.labels) labelsInScope.add(l);
  }
  for (const { metric, label } of uses.selectorLabels) {
    if (TARGET_LABELS.has(label) || PROMETHEUS_SERIES.has(metric)) continue;
    const m = known.get(metric);
    if (m && !m.labels.has(label)) problems.push(`${where}: ${metric} has no label ${label}`);
  }
  for (const label of uses.groupLabels) if (!labelsInScope.has(label)) problems.push(`${where}: groups by ${label}, which none of its metrics has`);
  return problems;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('the PromQL reader of this test', () => {
  it('finds the metrics and labels of an expression, and not its functions, keywords or strings', () => {
    expect(
      promqlUses('sum by (queue) (rate(chorus_x_total{reason="a b", job=~"chorus-.*"}[5m] offset 1h)) > 3 * on(queue) up and chorus_y{le="+Inf"} == bool 1e3'),
    ).toEqual({
      metrics: ['chorus_x_total', 'up', 'chorus_y'],
      selectorLabels: [
        { metric: 'chorus_x_total', label: 'reason' },
        { metric: 'chorus_x_total', label: 'job' },
        { metric: 'chorus_y', label: 'le' },
      ],
      groupLabels: ['queue', 'queue'],
    });
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  const doc = parseYaml(read('deploy/prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);

  it('parses, and has the alerts the operators rely on, each with a summary and a description', () => {
    const alerts = rules.map((r) => r.alert);
    for (const name of ['ChorusSheddingSignatures', 'ChorusQueueStuck', 'ChorusLettersFailed', 'ChorusBounceSpike', 'ChorusConfirmationRateFalling']) {
      expect(alerts).toContain(name);
    }
    for (const r of rules) {
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
    }
  });

  it('uses only metrics and labels the registry defines', () => {
    const known = registryMetrics();
    expect(rules.flatMap((r) => checkExpression(r.alert ?? r.record!, r.expr, known))).toEqual([]);
  });

  it('fails this check when a metric is renamed', () => {
    const known = registryMetrics();
    expect(checkExpression('renamed', 'sum(rate(chorus_signatures_shedded_total[5m])) > 0', known)).toEqual(['renamed: chorus_signatures_shedded_total is not a metric of the registry']);
    expect(checkExpression('relabelled', 'sum by (cause) (rate(chorus_signatures_shed_total{cause="x"}[5m]))', known)).toEqual([
      'relabelled: chorus_signatures_shed_total has no label cause',
      'relabelled: groups by cause, which none of its metrics has',
    ]);
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  it('scrapes the servers on even ports from 9464 and the workers on odd ports from 9465, and loads the alerts', () => {
    const doc = parseYaml(read('deploy/prometheus/prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    expect(doc.rule_files).toEqual(['alerts.yml']);
    const targets = (job: string) => doc.scrape_configs.find((c) => c.job_name === job)!.static_configs.flatMap((s) => s.targets);
    expect(targets('chorus-server')).toEqual(['127.0.0.1:9464', '127.0.0.1:9466', '127.0.0.1:9468']);
    expect(targets('chorus-workers')).toEqual(['127.0.0.1:9465', '127.0.0.1:9467']);
    // the alerts' up{job=...} names these jobs
    expect(read('deploy/prometheus/alerts.yml')).toContain('up{job=~"chorus-server|chorus-workers"}');
  });
});

describe('deploy/grafana/chorus.json', () => {
  const dashboard = JSON.parse(read('deploy/grafana/chorus.json')) as {
    __inputs: { name: string; type: string; pluginId: string }[];
    panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
    uid: string;
    title: string;
  };
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

  it('asks for its Prometheus data source on import, and every panel uses it', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
    }
    expect(queries.length).toBeGreaterThan(10);
  });

  it('uses only metrics and labels the registry defines, and shows every chorus_ metric', () => {
    const known = registryMetrics();
    expect(queries.flatMap((q) => checkExpression(q.panel, q.expr, known))).toEqual([]);
    const used = new Set(queries.flatMap((q) => promqlUses(q.expr).metrics).map((m) => m.replace(/_(bucket|sum|count)$/, '')));
    const ours = registry.getMetricsAsArray().map((m) => m.name).filter((n) => n.startsWith('chorus_'));
    expect(ours.filter((n) => !used.has(n))).toEqual([]);
  });
});

// `npm test` installs promtool and names it (PROMTOOL_PATH): then the check runs, or fails
const PROMTOOL = process.env.PROMTOOL_PATH ?? 'promtool';
const promtool = process.env.PROMTOOL_PATH !== undefined || spawnSync(PROMTOOL, ['--version']).status === 0;

describe('promtool', () => {
  it.skipIf(!promtool)('checks the rules and the scrape configuration, and runs the rules\' unit tests (promtool comes with Debian\'s prometheus package; without it this test is skipped)', () => {
    const cwd = `${ROOT}deploy/prometheus`;
    const run = (...args: string[]) => execFileSync(PROMTOOL, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(run('check', 'rules', 'alerts.yml')).toMatch(/SUCCESS: \d+ rules found/);
    expect(run('check', 'config', 'prometheus.yml')).toMatch(/SUCCESS/);
    expect(run('test', 'rules', 'alerts.test.yml')).toMatch(/SUCCESS/);
  });
  if (!promtool) it.skip('promtool is not installed (apt-get install prometheus): the rules were only parsed and checked against the registry', () => {});
});

// HTTP load through autocannon (as a library), with our own per-status latency record and a
// progress line per second. autocannon's own histogram mixes every answer; the targets speak
// of "admitted" requests (2xx) separately from shed ones (429/503), so we keep our own.
import autocannon from 'autocannon';
import { cpuMsOf } from './child.ts';

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** builds the body of each request; `ctx` is per connection, handed back in onResponse */
  body?: (ctx: Record<string, unknown>) => string;
  /** headers of each request, asked for after `body` (so they can depend on what it chose) */
  headersFor?: (ctx: Record<string, unknown>) => Record<string, string>;
  onResponse?: (status: number, ctx: Record<string, unknown>) => void;
}

export interface LoadOptions {
  label: string;
  url: string;
  connections: number;
  seconds: number;
  requests: LoadRequest[];
  /** open-loop pacing: at most this many requests per second over all connections */
  overallRate?: number;
  /** called once a second with the elapsed seconds (for side measurements like RSS) */
  onTick?: (elapsed: number) => void;
  /** the server's process: its CPU time per answer is reported (robust on a shared machine) */
  serverPid?: number;
  quiet?: boolean;
}

export interface LoadResult {
  label: string;
  connections: number;
  seconds: number;
  /** responses per second over the whole run */
  rps: number;
  /** 2xx responses per second */
  okRps: number;
  total: number;
  byStatus: Record<string, number>;
  /** transport errors and timeouts (no HTTP answer) */
  errors: number;
  timeouts: number;
  /** latency of 2xx answers, ms */
  okLatency: Percentiles;
  /** latency of every answer, ms */
  latency: Percentiles;
  /** CPU time the server process used per answer, ms (when serverPid was given) */
  serverCpuMsPerRequest?: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentiles(values: ArrayLike<number>, n = values.length): Percentiles {
  if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from({ length: n }, (_, i) => values[i]!).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1]! };
}

/** A growable list of numbers without boxing (a 60 s overload run records about a million). */
export class Samples {
  data = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  percentiles(): Percentiles {
    return percentiles(this.data, this.length);
  }
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function progress(line: string): void {
  if (process.env.VITEST) return; // the test suite's smoke runs stay quiet
  process.stdout.write(`  ${line}\n`);
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const byStatus: Record<string, number> = {};
  const okLatency = new Samples();
  const allLatency = new Samples();
  let errors = 0;
  let timeouts = 0;
  let secondCount = 0;
  let secondOk = 0;
  let elapsed = 0;

  let finish!: (r: autocannon.Result) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(
    {
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    overallRate: opts.overallRate,
    timeout: 10,
    requests: opts.requests.map((r) => ({
      method: r.method,
      path: r.path,
      headers: r.headers,
      ...(r.body
        ? {
            setupRequest: (req: Record<string, unknown>, ctx: Record<string, unknown>) => {
              const body = r.body!(ctx);
              return r.headersFor ? { ...req, body, headers: { ...r.headers, ...r.headersFor(ctx) } } : { ...req, body };
            },
          }
        : {}),
      ...(r.onResponse ? { onResponse: (status: number, _body: string, ctx: Record<string, unknown>) => r.onResponse!(status, ctx) } : {}),
    })) as autocannon.Request[],
    },
    (err, result) => (err ? fail(err) : finish(result)),
  );
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    byStatus[statusCode] = (byStatus[statusCode] ?? 0) + 1;
    allLatency.push(responseTime);
    secondCount++;
    if (statusCode >= 200 && statusCode < 300) {
      okLatency.push(responseTime);
      secondOk++;
    }
  });
  instance.on('reqError', () => errors++);
  // a timed-out request counts as "no answer", like a transport error
  instance.on('tick', () => {
    elapsed++;
    if (!opts.quiet) {
      const other = secondCount - secondOk;
      progress(
        `[${opts.label}] ${String(elapsed).padStart(3)}/${opts.seconds} s  ${fmt(secondCount).padStart(7)} req/s` +
          (other > 0 ? `  (${fmt(other)} not 2xx)` : '') +
          (errors + timeouts > 0 ? `  errors ${errors + timeouts}` : ''),
      );
    }
    secondCount = 0;
    secondOk = 0;
    opts.onTick?.(elapsed);
  });
  const cpuBefore = cpuMsOf(opts.serverPid);
  const result = await done;
  const cpuUsed = cpuMsOf(opts.serverPid) - cpuBefore;
  timeouts = result.timeouts;
  errors = Math.max(0, result.errors - result.timeouts);
  const total = allLatency.length;
  const ok = okLatency.length;
  const duration = result.duration || opts.seconds;
  const cpuPerAnswer = opts.serverPid && total > 0 ? cpuUsed / total : undefined;
  if (!opts.quiet) {
    progress(
      `[${opts.label}] done: ${fmt(total / duration)} answers/s, ${fmt(ok / duration)} 2xx/s, p99 ${fmt(allLatency.percentiles().p99, 1)} ms` +
        (cpuPerAnswer === undefined ? '' : `, server CPU ${fmt(cpuPerAnswer, 3)} ms/answer`),
    );
  }
  return {
    label: opts.label,
    connections: opts.connections,
    seconds: duration,
    rps: total / duration,
    okRps: ok / duration,
    total,
    byStatus,
    errors,
    timeouts,
    okLatency: okLatency.percentiles(),
    latency: allLatency.percentiles(),
    serverCpuMsPerRequest: cpuPerAnswer,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `runs` times and keeps the run whose `key` is the median (so its other figures belong to it). */
export async function medianRun<T>(runs: number, fn: (i: number) => Promise<T>, key: (r: T) => number): Promise<{ median: T; all: T[] }> {
  const all: T[] = [];
  for (let i = 0; i < runs; i++) all.push(await fn(i));
  const sorted = [...all].sort((a, b) => key(a) - key(b));
  return { median: sorted[Math.floor((sorted.length - 1) / 2)]!, all };
}

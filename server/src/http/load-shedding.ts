// Overload is answered, not suffered: when the server cannot answer a new signature in time,
// it says so at once (503 with Retry-After) instead of queueing it behind thousands of others
// until every signer times out. Three signals, checked before the body is even read:
// - signatures in flight (admitted, not yet answered) against what the recent answer rate
//   clears within a latency budget (Little's law: in flight = rate × time), so an admitted
//   signer is answered within about that budget however many arrive;
// - event-loop lag: the process is so late (out of CPU, requests queueing before any of our
//   code runs) that an admitted signer could not be answered within the budget anyway. Only
//   a large lag counts: a loop late because other processes hold the CPU is not relieved by
//   refusing signers, and refusing on every small lag turned overload into a collapse (the
//   bench measured 93 answers a second, of a capacity over 1,000);
// - the signature writer's oldest unanswered signature: PostgreSQL is not keeping up.
// Only the signing route sheds. Reads are served from memory and stay cheap, so readers keep
// their pages while the writes that cost the most are turned away.
//
// Why not @fastify/under-pressure: it sheds every route alike (reads too) on process-wide
// signals, and cannot see the writer's backlog, which is the signal that matters when the
// database, not this process, is the bottleneck.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.ts';
import { apiSecurityHeaders } from './security-headers.ts';
import { signaturesShed, type ShedReason } from '../shared/metrics.ts';

export interface LoadShedderOptions {
  /**
   * latency budget of an admitted signature: signatures in flight are capped at the recent
   * answer rate times this (absent: no cap)
   */
  inFlightLatencyMs?: number;
  /** ... but never below this many: a burst smaller than it is always admitted */
  minInFlight?: number;
  /** smoothed event-loop lag above which new signatures are refused */
  maxEventLoopLagMs: number;
  /** age of the oldest unanswered signature above which new ones are refused */
  maxWriterWaitMs: number;
  retryAfterSeconds: number;
}

export const DEFAULT_SHEDDING: LoadShedderOptions = { inFlightLatencyMs: 150, minInFlight: 128, maxEventLoopLagMs: 250, maxWriterWaitMs: 1000, retryAfterSeconds: 1 };

/**
 * Signatures admitted and not yet answered, the rate at which they are answered (answers per
 * second, smoothed over about a second), and the capacity: the highest recent rate, decaying
 * by a third each second. The cap follows the capacity, not the current rate, so that while
 * other signals shed (and fewer are answered) the cap does not shrink with them into a spiral;
 * a real fall in capacity lowers it within seconds, and the writer's own signal covers those.
 */
export class InFlight {
  count = 0;
  rate = 0;
  capacity = 0;
  private answered = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly windowMs = 250) {}

  start(): this {
    const decay = Math.pow(2 / 3, this.windowMs / 1000);
    this.timer = setInterval(() => {
      this.rate = this.rate * 0.5 + ((this.answered * 1000) / this.windowMs) * 0.5;
      this.capacity = Math.max(this.rate, this.capacity * decay);
      this.answered = 0;
    }, this.windowMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** how many may be in flight under `opts` */
  limit(opts: Pick<LoadShedderOptions, 'inFlightLatencyMs' | 'minInFlight'>): number {
    if (opts.inFlightLatencyMs === undefined) return Infinity;
    return Math.max(opts.minInFlight ?? 1, Math.floor((this.capacity * opts.inFlightLatencyMs) / 1000));
  }

  admit(): void {
    this.count++;
  }

  done(): void {
    this.count--;
    this.answered++;
  }
}

/**
 * Event-loop lag, sampled by a timer that should fire every `intervalMs`, smoothed (EWMA).
 * A late timer may also mean that other processes took the CPU while this one was idle; that
 * is not load we can shed. So lag counts only while this loop is itself busy (event-loop
 * utilisation over the last few samples above `busyAbove`).
 */
export class EventLoopLag {
  private timer: NodeJS.Timeout | null = null;
  private expected = 0;
  private lastElu = performance.eventLoopUtilization();
  private rawLagMs = 0;
  utilisation = 0;

  constructor(
    private readonly intervalMs = 20,
    private readonly busyAbove = 0.9,
  ) {}

  get lagMs(): number {
    return this.utilisation >= this.busyAbove ? this.rawLagMs : 0;
  }

  start(): this {
    const tick = () => {
      const now = performance.now();
      const lag = Math.max(0, now - this.expected);
      // quick to rise, quick to fall: a blip of garbage collection decays within ~100 ms
      this.rawLagMs = this.rawLagMs * 0.5 + lag * 0.5;
      const elu = performance.eventLoopUtilization();
      this.utilisation = this.utilisation * 0.5 + performance.eventLoopUtilization(elu, this.lastElu).utilization * 0.5;
      this.lastElu = elu;
      this.expected = now + this.intervalMs;
      this.timer = setTimeout(tick, this.intervalMs);
      this.timer.unref();
    };
    this.expected = performance.now() + this.intervalMs;
    this.timer = setTimeout(tick, this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export interface ShedSignals {
  lag: { lagMs: number };
  writer: { oldestWaitMs(): number };
  inFlight?: InFlight;
  /** signatures refused so far, by reason (logged by the server) */
  shed?: Record<string, number>;
}

/**
 * Why a new signature would be refused now (counted in `signals.shed` and in the
 * chorus_signatures_shed_total metric), or null to admit it.
 */
export function shedReason(signals: ShedSignals, opts: LoadShedderOptions): ShedReason | null {
  const reason = reasonNow(signals, opts);
  if (reason) countShed(signals, reason);
  return reason;
}

function countShed(signals: ShedSignals, reason: ShedReason): void {
  if (signals.shed) signals.shed[reason] = (signals.shed[reason] ?? 0) + 1;
  signaturesShed.inc({ reason });
}

function reasonNow(signals: ShedSignals, opts: LoadShedderOptions): ShedReason | null {
  if (signals.inFlight && signals.inFlight.count >= signals.inFlight.limit(opts)) return 'in_flight';
  if (signals.lag.lagMs > opts.maxEventLoopLagMs) return 'event_loop_lag';
  if (signals.writer.oldestWaitMs() > opts.maxWriterWaitMs) return 'writer_backlog';
  return null;
}

const REFUSAL_MESSAGE = 'Too many signatures are arriving at once; please try again in a moment';

/**
 * An onRequest hook for the signing route: refuses a new signature, before its body is read,
 * while one of the signals says so. It admits nothing itself: see admitSigning.
 */
export function shedSigning(signals: ShedSignals, opts: LoadShedderOptions = DEFAULT_SHEDDING) {
  return async (_req: FastifyRequest, _reply: FastifyReply) => {
    if (shedReason(signals, opts)) throw refusal(opts);
  };
}

/**
 * A preHandler hook for the signing route: counts the signature in flight once its body has
 * arrived, until it is answered. A request whose body trickles in is not a signature in flight:
 * counted from its first byte, a few hundred such connections held the count at its cap and every
 * signer was refused while they lasted. Signatures admitted in the meantime are checked again.
 */
export function admitSigning(signals: ShedSignals, opts: LoadShedderOptions = DEFAULT_SHEDDING) {
  return async (_req: FastifyRequest, reply: FastifyReply) => {
    const inFlight = signals.inFlight;
    if (!inFlight) return;
    if (inFlight.count >= inFlight.limit(opts)) {
      countShed(signals, 'in_flight');
      throw refusal(opts);
    }
    inFlight.admit();
    // 'close' comes once per response, answered or abandoned by the client
    reply.raw.once('close', () => inFlight.done());
  };
}

function refusal(opts: LoadShedderOptions): AppError {
  return new AppError(503, 'overloaded', REFUSAL_MESSAGE, { 'retry-after': String(opts.retryAfterSeconds) });
}

const SIGNING = /^\/api\/actions\/[^/?#]+\/signatures(?:[?#]|$)/;
const REFUSAL_BODY = JSON.stringify({ statusCode: 503, error: 'Service Unavailable', code: 'overloaded', message: REFUSAL_MESSAGE });

/**
 * The same refusal as shedSigning's, given before Fastify routes the request: a check of the
 * method and path, then a fixed answer (the API's own security headers and error shape). The
 * bench measured a refusal through Fastify at about 0.12 ms of server CPU, four times a
 * hello-world answer; in an overload those refusals were most of what the server did.
 * Answers true when it answered.
 */
export function earlyRefusal(signals: ShedSignals, opts: LoadShedderOptions, hsts: string | null) {
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(REFUSAL_BODY)),
    'retry-after': String(opts.retryAfterSeconds),
    ...apiSecurityHeaders(hsts),
  };
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'POST' || !SIGNING.test(req.url ?? '')) return false;
    if (!shedReason(signals, opts)) return false;
    res.writeHead(503, headers);
    res.end(REFUSAL_BODY);
    return true;
  };
}

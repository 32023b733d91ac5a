// Where the CPU of a scenario goes: CPU time used by each part of the platform during a run
// (the server and workers processes, the PostgreSQL backends of the bench database, Redis, and
// the load generator itself), from /proc and Redis INFO. On a machine whose cores are shared by
// all of them, the sum per answer bounds the rate: cores × 1000 / (CPU ms per answer).
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import { cpuMsOf } from './child.ts';

export interface CpuShare {
  /** CPU ms used in the run, per part */
  ms: Record<string, number>;
  /** wall-clock seconds of the run */
  seconds: number;
}

async function backendPids(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
  );
  return rows.map((r) => r.pid);
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return (get('used_cpu_sys') + get('used_cpu_user')) * 1000;
}

/**
 * Starts measuring; the returned function stops and answers the CPU used since. PostgreSQL
 * backends that connect during the run are counted from their start. Redis is counted whole
 * (its CPU is not split by database), so run nothing else against it meanwhile.
 */
export async function measureCpu(parts: { pids: Record<string, number | number[] | undefined>; pool: pg.Pool; redis: Redis }): Promise<() => Promise<CpuShare>> {
  const t0 = performance.now();
  const cpuOf = (pid: number | number[] | undefined) => (Array.isArray(pid) ? pid.reduce((a, p) => a + cpuMsOf(p), 0) : cpuMsOf(pid));
  const procBefore = Object.fromEntries(Object.entries(parts.pids).map(([k, pid]) => [k, cpuOf(pid)]));
  const pgBefore = new Map((await backendPids(parts.pool)).map((pid) => [pid, cpuMsOf(pid)]));
  const redisBefore = await redisCpuMs(parts.redis);
  const selfBefore = process.cpuUsage();
  return async () => {
    const self = process.cpuUsage(selfBefore);
    const ms: Record<string, number> = {};
    for (const [k, pid] of Object.entries(parts.pids)) ms[k] = cpuOf(pid) - procBefore[k]!;
    let pgMs = 0;
    for (const pid of await backendPids(parts.pool)) pgMs += cpuMsOf(pid) - (pgBefore.get(pid) ?? 0);
    ms.postgresql = pgMs;
    ms.redis = (await redisCpuMs(parts.redis)) - redisBefore;
    ms['load generator'] = (self.user + self.system) / 1000;
    return { ms, seconds: (performance.now() - t0) / 1000 };
  };
}

/** nginx's master process (from its pid file in `dir`) and its workers: the processes whose parent it is */
export function nginxPids(dir: string | undefined): number[] {
  if (!dir) return [];
  let master: number;
  try {
    master = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim());
  } catch {
    return [];
  }
  const pids = [master];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // the parent's pid is the second field after the command name (which is in parentheses)
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** "server 0.21, postgresql 0.18, ... = 0.52 ms per answer; 2 cores allow 3,846/s" */
export function describeCpu(
  share: CpuShare,
  answers: number,
): { perAnswer: Record<string, number>; totalMs: number; bound: number; platformPerLoad: number | null; text: string } {
  const perAnswer = Object.fromEntries(Object.entries(share.ms).map(([k, v]) => [k, answers > 0 ? v / answers : 0]));
  const totalMs = Object.values(perAnswer).reduce((a, b) => a + b, 0);
  // The load generator's code is the same whichever version of Chorus it drives, so its CPU per
  // answer measures how fast the machine is during this run (on a shared machine it swings
  // between runs by a third). The platform's CPU over it cancels that: the figure to compare
  // two versions by.
  const load = perAnswer['load generator'] ?? 0;
  const platformPerLoad = load > 0 ? (totalMs - load) / load : null;
  const cores = cpus().length;
  const bound = totalMs > 0 ? (cores * 1000) / totalMs : 0;
  const parts = Object.entries(perAnswer)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(', ');
  const busy = Object.values(share.ms).reduce((a, b) => a + b, 0) / 1000 / share.seconds;
  return {
    perAnswer,
    totalMs,
    bound,
    platformPerLoad,
    text: `CPU ms per answer: ${parts} = ${totalMs.toFixed(3)}; ${cores} cores allow ${Math.round(bound).toLocaleString('en-US')}/s at that cost (they were ${((busy / cores) * 100).toFixed(0)}% busy with these parts)`,
  };
}

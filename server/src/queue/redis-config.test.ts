// The start-up check of Redis's configuration: against the real test Redis (noeviction), and
// against a small RESP server that answers like a Redis with an eviction policy, so the shared
// Redis's configuration is never touched. The last test starts the real worker process on it.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRedisConfig, enforceRedisConfig } from './redis-config.ts';
import { buildProcesses } from '../../bin/build-processes.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Speaks just enough RESP for ioredis: INFO, CONFIG GET, PING, CLIENT/SELECT; everything else +OK. */
function fakeRedis(policy: string): Promise<{ server: Server; url: string }> {
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  return new Promise((resolve) => {
    const server = createServer((socket) => {
      let buf = '';
      socket.on('data', (d) => {
        buf += d.toString('utf8');
        // one reply per complete command (arrays of bulk strings)
        for (;;) {
          const m = /^\*(\d+)\r\n/.exec(buf);
          if (!m) return;
          const parts: string[] = [];
          let rest = buf.slice(m[0].length);
          let complete = true;
          for (let i = 0; i < Number(m[1]); i++) {
            const b = /^\$(\d+)\r\n/.exec(rest);
            if (!b || rest.length < b[0].length + Number(b[1]) + 2) {
              complete = false;
              break;
            }
            parts.push(rest.slice(b[0].length, b[0].length + Number(b[1])));
            rest = rest.slice(b[0].length + Number(b[1]) + 2);
          }
          if (!complete) return;
          buf = rest;
          const cmd = parts[0]!.toUpperCase();
          if (cmd === 'INFO') socket.write(bulk('# Server\r\nredis_version:7.0.0\r\nloading:0\r\n'));
          else if (cmd === 'CONFIG') {
            const name = parts[2]!;
            const value = name === 'maxmemory-policy' ? policy : 'no';
            socket.write(`*2\r\n${bulk(name)}${bulk(value)}`);
          } else if (cmd === 'PING') socket.write('+PONG\r\n');
          else socket.write('+OK\r\n');
        }
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `redis://127.0.0.1:${(server.address() as { port: number }).port}/0` }));
  });
}

let lru: { server: Server; url: string };
beforeAll(async () => {
  lru = await fakeRedis('allkeys-lru');
});
afterAll(() => {
  lru?.server.close();
});

const quietLog = () => {
  const lines: string[] = [];
  return { lines, warn: (_o: object, m: string) => void lines.push(`warn ${m}`), info: (_o: object, m: string) => void lines.push(`info ${m}`) };
};

describe('Redis configuration check', () => {
  it('passes the test Redis (noeviction) and reports whether AOF is on', async () => {
    const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
    try {
      const check = await checkRedisConfig(redis);
      expect(check).toMatchObject({ ok: true, policy: 'noeviction' });
    } finally {
      redis.disconnect();
    }
  });

  it('warns about, or refuses, an eviction policy', async () => {
    const redis = new Redis(lru.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await checkRedisConfig(redis)).toEqual({ ok: false, reason: 'eviction', policy: 'allkeys-lru' });
      const log = quietLog();
      await enforceRedisConfig(redis, { mode: 'warn', log });
      expect(log.lines.join('\n')).toMatch(/warn Redis maxmemory-policy is allkeys-lru; BullMQ needs noeviction/);
      await expect(enforceRedisConfig(redis, { mode: 'refuse', log })).rejects.toThrow(/refusing to start/);
    } finally {
      redis.disconnect();
    }
  });

  it('lets a Redis that forbids CONFIG through with a warning, without hanging', async () => {
    const forbidding = { config: () => Promise.reject(new Error("ERR unknown command 'CONFIG'")) } as unknown as Redis;
    const silent = { config: () => new Promise(() => {}) } as unknown as Redis;
    expect(await checkRedisConfig(forbidding)).toEqual({ ok: null, reason: 'unknown' });
    const t = Date.now();
    expect(await checkRedisConfig(silent, 300)).toEqual({ ok: null, reason: 'unknown' });
    expect(Date.now() - t).toBeLessThan(2_000);
  });

  it('the worker process refuses to start on it with REDIS_EVICTION_CHECK=refuse', async () => {
    const child = spawn(process.execPath, [(await buildProcesses()).workers], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: lru.url, REDIS_EVICTION_CHECK: 'refuse', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 30_000);
      child.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    expect(code, out).toBe(1);
    expect(out).toMatch(/maxmemory-policy is allkeys-lru.*refusing to start/);
  }, 40_000);
});

// describeCpu (cpu.ts): where a signature's CPU goes, and the figure versions are compared by.
import { describe, expect, it } from 'vitest';
import { describeCpu } from './cpu.ts';

describe('describeCpu', () => {
  it('gives each part per answer, their sum, and the platform over the load generator', () => {
    const c = describeCpu({ seconds: 10, ms: { server: 5000, workers: 4000, postgresql: 3000, redis: 1000, 'load generator': 1500 } }, 10_000);
    expect(c.perAnswer).toEqual({ server: 0.5, workers: 0.4, postgresql: 0.3, redis: 0.1, 'load generator': 0.15 });
    expect(c.totalMs).toBeCloseTo(1.45, 10);
    expect(c.platformPerLoad).toBeCloseTo(1.3 / 0.15, 10);
    expect(c.text).toMatch(/^CPU ms per answer: server 0\.500, workers 0\.400, postgresql 0\.300, load generator 0\.150, redis 0\.100 = 1\.450;/);
  });

  it('the same work on a machine half as fast gives the same relative figure', () => {
    const fast = describeCpu({ seconds: 10, ms: { server: 4000, 'load generator': 1000 } }, 8000);
    const slow = describeCpu({ seconds: 10, ms: { server: 8000, 'load generator': 2000 } }, 8000);
    expect(slow.totalMs).toBeCloseTo(2 * fast.totalMs, 10);
    expect(slow.platformPerLoad).toBeCloseTo(fast.platformPerLoad!, 10);
  });

  it('has no relative figure without the load generator, or without answers', () => {
    expect(describeCpu({ seconds: 1, ms: { server: 100 } }, 10).platformPerLoad).toBeNull();
    expect(describeCpu({ seconds: 1, ms: { server: 100, 'load generator': 50 } }, 0).platformPerLoad).toBeNull();
  });
});

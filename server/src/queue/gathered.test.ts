// Confirmation emails asked for in one turn of the event loop are enqueued in one call
// (queue.ts gathered): a writer's batch of signatures makes one addBulk, not one each.
import { describe, expect, it } from 'vitest';
import { gathered } from './queue.ts';

describe('gathered', () => {
  it('sends what is asked in one turn in one call, in order, and settles every caller with it', async () => {
    const calls: number[][] = [];
    const enqueue = gathered(async (items: number[]) => {
      calls.push(items);
    });
    await Promise.all([enqueue([1]), enqueue([2, 3]), enqueue([]), enqueue([4])]);
    expect(calls).toEqual([[1, 2, 3, 4]]);
    await enqueue([5]);
    expect(calls).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('asks in the next turn go in a call of their own, even while the first is under way', async () => {
    const calls: string[][] = [];
    let release!: () => void;
    const enqueue = gathered(
      (items: string[]) =>
        new Promise<void>((resolve) => {
          calls.push(items);
          if (items[0] === 'a') release = resolve;
          else resolve();
        }),
    );
    const first = enqueue(['a']);
    await new Promise((r) => setImmediate(r));
    const second = enqueue(['b']);
    await second;
    expect(calls).toEqual([['a'], ['b']]);
    release();
    await first;
  });

  it('rejects every caller of a failed call, and the next turn starts afresh', async () => {
    let fail = true;
    const enqueue = gathered(async () => {
      if (fail) throw new Error('Redis is away');
    });
    const results = await Promise.allSettled([enqueue(['x']), enqueue(['y'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error('Redis is away'));
    fail = false;
    await expect(enqueue(['z'])).resolves.toBeUndefined();
  });
});

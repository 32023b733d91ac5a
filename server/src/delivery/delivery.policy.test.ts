import { describe, expect, it } from 'vitest';
import { deliveryDue } from './delivery.policy.ts';

describe('deliveryDue', () => {
  const base = { policy: 'EVERY_N' as const, everyN: 10, undelivered: 0, status: 'PUBLISHED' as const };
  it('never delivers nothing', () => {
    expect(deliveryDue({ ...base, policy: 'IMMEDIATE' })).toBe(false);
  });
  it('delivers immediately on any new confirmation', () => {
    expect(deliveryDue({ ...base, policy: 'IMMEDIATE', undelivered: 1 })).toBe(true);
  });
  it('waits for N under EVERY_N', () => {
    expect(deliveryDue({ ...base, undelivered: 9 })).toBe(false);
    expect(deliveryDue({ ...base, undelivered: 10 })).toBe(true);
  });
  it('flushes the remainder when the action closes', () => {
    expect(deliveryDue({ ...base, undelivered: 3, status: 'CLOSED' })).toBe(true);
  });
  it('sends nothing for drafts or archived actions', () => {
    expect(deliveryDue({ ...base, policy: 'IMMEDIATE', undelivered: 5, status: 'DRAFT' })).toBe(false);
    expect(deliveryDue({ ...base, policy: 'IMMEDIATE', undelivered: 5, status: 'ARCHIVED' })).toBe(false);
  });
});

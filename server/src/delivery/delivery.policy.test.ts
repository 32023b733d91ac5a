import { describe, expect, it } from 'vitest';
import { DIGEST_GAP_MS, deliveryDue, type PolicyInput } from './delivery.policy.ts';

const now = new Date('2026-12-02T10:00:00Z');
const base: PolicyInput = {
  policy: 'EVERY_N',
  everyN: 10,
  milestones: [100, 1000],
  undelivered: 0,
  confirmedTotal: 0,
  lastBatchAt: null,
  lastBatchTotal: 0,
  status: 'PUBLISHED',
  now,
  anyOfficeOpen: true,
};

describe('deliveryDue', () => {
  it('never delivers nothing, whatever the policy', () => {
    for (const policy of ['IMMEDIATE', 'EVERY_N', 'DAILY_DIGEST', 'MILESTONES', 'ON_CLOSE'] as const) {
      expect(deliveryDue({ ...base, policy, status: 'CLOSED' })).toBe(false);
    }
  });
  it('delivers immediately on any new confirmation', () => {
    expect(deliveryDue({ ...base, policy: 'IMMEDIATE', undelivered: 1 })).toBe(true);
  });
  it('waits for N under EVERY_N', () => {
    expect(deliveryDue({ ...base, undelivered: 9 })).toBe(false);
    expect(deliveryDue({ ...base, undelivered: 10 })).toBe(true);
  });
  it('sends a daily digest at most once a day', () => {
    const digest = { ...base, policy: 'DAILY_DIGEST' as const, undelivered: 5 };
    expect(deliveryDue(digest)).toBe(true);
    expect(deliveryDue({ ...digest, lastBatchAt: new Date(now.getTime() - 3_600_000) })).toBe(false);
    expect(deliveryDue({ ...digest, lastBatchAt: new Date(now.getTime() - DIGEST_GAP_MS) })).toBe(true);
  });
  it('makes a daily digest only while an office of its officials is open, the first one too', () => {
    const digest = { ...base, policy: 'DAILY_DIGEST' as const, undelivered: 5, anyOfficeOpen: false };
    expect(deliveryDue(digest)).toBe(false);
    expect(deliveryDue({ ...digest, lastBatchAt: new Date(now.getTime() - 2 * DIGEST_GAP_MS) })).toBe(false);
    // closing sends what is left at once, open or not
    expect(deliveryDue({ ...digest, status: 'CLOSED' })).toBe(true);
    // the other policies do not wait for offices
    expect(deliveryDue({ ...digest, policy: 'IMMEDIATE' })).toBe(true);
  });
  it('delivers when the count passes a milestone not yet reported', () => {
    const ms = { ...base, policy: 'MILESTONES' as const, undelivered: 40 };
    expect(deliveryDue({ ...ms, confirmedTotal: 99, lastBatchTotal: 0 })).toBe(false);
    expect(deliveryDue({ ...ms, confirmedTotal: 100, lastBatchTotal: 0 })).toBe(true);
    expect(deliveryDue({ ...ms, confirmedTotal: 140, lastBatchTotal: 100 })).toBe(false);
    expect(deliveryDue({ ...ms, confirmedTotal: 1000, lastBatchTotal: 140 })).toBe(true);
  });
  it('holds everything until close under ON_CLOSE', () => {
    expect(deliveryDue({ ...base, policy: 'ON_CLOSE', undelivered: 500 })).toBe(false);
    expect(deliveryDue({ ...base, policy: 'ON_CLOSE', undelivered: 500, status: 'CLOSED' })).toBe(true);
  });
  it('flushes the remainder when an action closes, whatever the policy', () => {
    expect(deliveryDue({ ...base, undelivered: 3, status: 'CLOSED' })).toBe(true);
    expect(deliveryDue({ ...base, policy: 'DAILY_DIGEST', undelivered: 3, status: 'CLOSED', lastBatchAt: now })).toBe(true);
  });
  it('sends nothing for drafts or archived actions', () => {
    expect(deliveryDue({ ...base, policy: 'IMMEDIATE', undelivered: 5, status: 'DRAFT' })).toBe(false);
    expect(deliveryDue({ ...base, policy: 'IMMEDIATE', undelivered: 5, status: 'ARCHIVED' })).toBe(false);
  });
});

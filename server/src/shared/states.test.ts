import { describe, expect, it } from 'vitest';
import { actionStates } from '../action/action.states.ts';
import { letterStates } from '../letter/letter.states.ts';
import { signatureStates } from '../signature/signature.states.ts';

describe('signature states', () => {
  it('confirms only from pending', () => {
    expect(signatureStates.sourcesOf('CONFIRMED')).toEqual(['PENDING']);
  });
  it('leaves invalidated only for pending (a clean sign-up replacing one never confirmed), never straight to confirmed', () => {
    expect(signatureStates.can('INVALIDATED', 'CONFIRMED')).toBe(false);
    expect(signatureStates.transitions.INVALIDATED).toEqual(['PENDING']);
  });
  it('refuses un-confirming', () => {
    expect(() => signatureStates.assert('CONFIRMED', 'PENDING')).toThrow(/not allowed/);
  });
});

describe('letter states', () => {
  it('is sent only by a submitting worker', () => {
    expect(letterStates.sourcesOf('SENT')).toEqual(['SUBMITTING']);
  });
  it('bounces only after being sent', () => {
    expect(letterStates.sourcesOf('BOUNCED')).toEqual(['SENT']);
  });
  it('lets a stale submitting row be re-claimed', () => {
    expect(letterStates.can('SUBMITTING', 'SUBMITTING')).toBe(true);
    expect(letterStates.can('SENT', 'SUBMITTING')).toBe(false);
  });
});

describe('action states', () => {
  it('publishes drafts and reopens closed actions, never archived ones', () => {
    expect(actionStates.sourcesOf('PUBLISHED').sort()).toEqual(['CLOSED', 'DRAFT']);
    expect(actionStates.can('ARCHIVED', 'PUBLISHED')).toBe(false);
  });
});

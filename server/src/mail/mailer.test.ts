import { describe, expect, it } from 'vitest';
import { classifySendError } from './mailer.ts';

describe('classifySendError', () => {
  it('treats SMTP 5xx as permanent', () => {
    expect(classifySendError({ responseCode: 550, response: '550 5.1.1 no such user' })).toEqual({ permanent: true, reason: '550 550 5.1.1 no such user' });
  });
  it('retries SMTP 4xx', () => {
    expect(classifySendError({ responseCode: 451, response: '451 try later' }).permanent).toBe(false);
  });
  it('retries network errors and timeouts', () => {
    expect(classifySendError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }).permanent).toBe(false);
    expect(classifySendError({ code: 'ETIMEDOUT', message: 'Greeting never received' }).permanent).toBe(false);
  });
  it('treats a refused envelope without a server reply as permanent', () => {
    expect(classifySendError({ code: 'EENVELOPE', message: 'No recipients defined' }).permanent).toBe(true);
  });
});

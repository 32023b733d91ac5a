import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

const base = { SECRET_KEY: 'k'.repeat(40) };

describe('loadConfig', () => {
  it('fills documented defaults', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      PORT: 3000,
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/chorus',
      REDIS_URL: 'redis://127.0.0.1:6379',
      SMTP_URL: 'smtp://127.0.0.1:1025',
      PUBLIC_BASE_URL: 'http://localhost:3000',
    });
  });

  it.each([
    [{}, /^Invalid configuration: SECRET_KEY is required$/],
    [{ SECRET_KEY: 'short' }, /SECRET_KEY must be at least 32 characters/],
    [{ ...base, PORT: 'eighty' }, /PORT/],
    [{ ...base, PORT: '70000' }, /PORT/],
    [{ ...base, DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a URL starting with postgres:\/\/ or postgresql:\/\//],
    [{ ...base, SMTP_URL: 'http://mail' }, /SMTP_URL must be a URL starting with smtp:\/\/ or smtps:\/\//],
    [{ ...base, MAIL_FROM: 'a@b.example\r\nBcc: x@y.example' }, /MAIL_FROM/],
    [{ ...base, LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
  ])('refuses %j with a one-line reason', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...base, PORT: '' }).PORT).toBe(3000);
  });
});

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
    [{ ...base, PUBLIC_COUNTRY_MIN: '1' }, /^Invalid configuration: PUBLIC_COUNTRY_MIN must be a whole number from 2 to 1000000 \(a count of 1 is a person\)$/],
    [{ ...base, PUBLIC_COUNTRY_MIN: '0' }, /PUBLIC_COUNTRY_MIN must be a whole number from 2/],
    [{ ...base, PUBLIC_COUNTRY_MIN: 'ten' }, /PUBLIC_COUNTRY_MIN must be a whole number from 2 to 1000000/],
    [{ ...base, PUBLIC_COUNTRY_MIN: '2.5' }, /PUBLIC_COUNTRY_MIN must be a whole number from 2 to 1000000/],
    [{ ...base, METRICS_PORT: 'nine' }, /^Invalid configuration: METRICS_PORT must be a port number from 0 to 65535 \(0 turns the metrics endpoint off\)$/],
    [{ ...base, METRICS_PORT: '70000' }, /^Invalid configuration: METRICS_PORT must be a port number from 0 to 65535/],
    [{ ...base, WORKERS_METRICS_PORT: '-1' }, /^Invalid configuration: WORKERS_METRICS_PORT must be a port number from 0 to 65535/],
    [{ ...base, WORKERS_METRICS_PORT: '94.65' }, /^Invalid configuration: WORKERS_METRICS_PORT must be a port number/],
    [{ ...base, METRICS_HOST: 'http://10.0.0.1/' }, /^Invalid configuration: METRICS_HOST must be an IP address or a host name/],
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

  it('keeps public counts by country at 10 signers or more unless told otherwise', () => {
    expect(loadConfig(base).PUBLIC_COUNTRY_MIN).toBe(10);
    expect(loadConfig({ ...base, PUBLIC_COUNTRY_MIN: '25' }).PUBLIC_COUNTRY_MIN).toBe(25);
  });

  it('serves metrics on 127.0.0.1:9464 (server) and :9465 (workers) unless told otherwise; 0 turns them off', () => {
    expect(loadConfig(base)).toMatchObject({ METRICS_HOST: '127.0.0.1', METRICS_PORT: 9464, WORKERS_METRICS_PORT: 9465 });
    expect(loadConfig({ ...base, METRICS_HOST: '10.1.2.3', METRICS_PORT: '9466', WORKERS_METRICS_PORT: '0' })).toMatchObject({
      METRICS_HOST: '10.1.2.3',
      METRICS_PORT: 9466,
      WORKERS_METRICS_PORT: 0,
    });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...base, PORT: '' }).PORT).toBe(3000);
  });
});

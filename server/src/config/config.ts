// Configuration is read and validated once, from the environment, and fails fast with a
// one-line reason. Everything else receives the parsed Config object.
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_DKIM_SELECTOR } from '../../bin/dkim-key.mjs';
import { parseDkimPrivateKey } from '../mail/dkim.ts';

const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}`);

/** the default of PUBLIC_COUNTRY_MIN */
export const DEFAULT_PUBLIC_COUNTRY_MIN = 10;

export const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgresql://postgres@127.0.0.1:5432/chorus'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  SMTP_URL: url(['smtp:', 'smtps:']).default('smtp://127.0.0.1:1025'),
  PUBLIC_BASE_URL: url(['http:', 'https:']).default('http://localhost:3000'),
  MAIL_FROM: z
    .string()
    .regex(/^[^\r\n]+@[^\r\n]+$/, 'must be an address such as "Chorus <actions@example.org>"')
    .default('Chorus <actions@chorus.example.org>'),
  /** key for HMACs: confirmation links, IP hashes. At least 32 characters. */
  SECRET_KEY: z.string().min(32, 'must be at least 32 characters (openssl rand -hex 32)'),
  /**
   * the private key that DKIM-signs every email (PEM; `\n` for line breaks is accepted). Unset:
   * the server and the workers refuse to start (mailer.ts, mailSigning); `npm start` generates one
   * into .data/dkim-<selector>.pem. Kept as PKCS #8 PEM.
   */
  DKIM_PRIVATE_KEY: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const parsed = parseDkimPrivateKey(value);
      if ('pem' in parsed) return parsed.pem;
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }),
  /** the DKIM selector: the key's record is published at <selector>._domainkey.<MAIL_FROM's domain> */
  DKIM_SELECTOR: z
    .string()
    .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'must be a DNS name such as chorus2026 (letters, digits, hyphens)')
    .default(DEFAULT_DKIM_SELECTOR),
  /** the organisation that signs letters on the signers' behalf */
  ORG_NAME: z.string().min(1).max(100).regex(/^[^\r\n]+$/, 'must be one line').default('Chorus'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** how often the batcher looks for confirmed signatures to deliver, in milliseconds */
  BATCH_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(15_000),
  /** how often the counter folds confirmations into the public counts, in milliseconds */
  COUNT_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
  /** how often each server process reloads the actions it serves (a new or changed action shows within this), in milliseconds */
  ACTIONS_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  /** PostgreSQL connections per process at most; unset: 24 for a server process, 16 for a workers process */
  DATABASE_POOL_MAX: z.coerce.number().int().min(2).max(200).optional(),
  /** how long a confirmation link stays valid, in hours */
  CONFIRM_LINK_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(24 * 14),
  /** a pending signer gets one reminder this many hours after the confirmation email */
  REMINDER_AFTER_HOURS: z.coerce
    .number({ error: 'must be a whole number of hours from 1 to 720' })
    .int('must be a whole number of hours from 1 to 720')
    .min(1, 'must be a whole number of hours from 1 to 720')
    .max(720, 'must be a whole number of hours from 1 to 720')
    .default(24),
  /** port of the SMTP endpoint that receives bounces (VERP); unset = no bounce server */
  BOUNCE_SMTP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** address the bounce endpoint listens on */
  BOUNCE_SMTP_HOST: z.string().min(1).default('127.0.0.1'),
  /** at most this many letters per recipient domain per minute, across all worker processes */
  LETTERS_PER_DOMAIN_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(60),
  /** outgoing SMTP: idle time on an open connection before a send is given up (and retried) */
  SMTP_SOCKET_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** outgoing SMTP: wait for the server's greeting */
  SMTP_GREETING_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** outgoing SMTP: wait for the TCP connection */
  SMTP_CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** how often the sweeper re-enqueues what the database says is owed */
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  /** the sweeper leaves work younger than this to the normal path */
  SWEEP_GRACE_MS: z.coerce.number().int().min(0).max(86_400_000).default(30_000),
  /** a letter SUBMITTING for longer than this is taken to belong to a dead worker and is tried again */
  SUBMITTING_STALE_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(300_000),
  /** where staff CSV exports are written (deleted after 24 hours) */
  EXPORT_DIR: z.string().min(1).default('.data/exports'),
  /**
   * Reverse proxies whose X-Forwarded-For is believed: comma-separated addresses or CIDR ranges
   * (e.g. `127.0.0.1,10.0.0.0/8`). Default none: the client address is the socket's, so a
   * forged X-Forwarded-For changes nothing.
   */
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
    .refine((list) => list.every(isAddressOrCidr), 'must be comma-separated IP addresses or CIDR ranges, such as 127.0.0.1,10.0.0.0/8'),
  /**
   * Other sites whose pages may post the public forms (signing, my data, answers) to this API
   * from a browser: comma-separated origins such as https://partner.example. Default none: a
   * browser request from another origin is refused (403 csrf); servers are not affected.
   */
  TRUSTED_FORM_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
    .refine((list) => list.every((o) => /^https?:\/\/[^/\s]+$/.test(o) && new URL(o).origin === o), 'must be comma-separated origins such as https://partner.example (no path)'),
  /**
   * Internal addresses webhook endpoints may use, for an internal CRM: comma-separated CIDR
   * ranges or addresses (e.g. `10.20.0.0/16`). Default none: endpoints on loopback, private,
   * link-local, shared (CGNAT), multicast or reserved addresses are refused (shared/outbound.ts).
   */
  WEBHOOK_ALLOW_PRIVATE: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
    .refine((list) => list.every(isAddressOrCidr), 'must be comma-separated IP addresses or CIDR ranges, such as 10.20.0.0/16'),
  /** unknown or wrong API keys presented per client address per 10 minutes, then 429 for that address */
  API_KEY_FAILURES_PER_IP: z.coerce.number().int().min(1).max(100_000_000).default(30),
  /** at start, a Redis whose maxmemory-policy is not noeviction is warned about, or refused */
  REDIS_EVICTION_CHECK: z.enum(['warn', 'refuse']).default('warn'),
  /** the retention job clears IP hashes this many days after signing */
  IP_HASH_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  /** ... and deletes unconfirmed and invalidated signatures (and supporters left with none) after this many days */
  UNCONFIRMED_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /**
   * Public counts by country (action pages, API, OSDI) never show a country with fewer signers
   * than this: such countries are counted together under "other countries". Officials see an
   * unnamed signer's country only within a group of at least this many (member-letter.ts,
   * countryForOfficial). At least 2: a count of 1 is a person.
   */
  PUBLIC_COUNTRY_MIN: z.coerce
    .number({ error: 'must be a whole number from 2 to 1000000' })
    .int('must be a whole number from 2 to 1000000')
    .min(2, 'must be a whole number from 2 to 1000000 (a count of 1 is a person)')
    .max(1_000_000, 'must be a whole number from 2 to 1000000')
    .default(DEFAULT_PUBLIC_COUNTRY_MIN),
  /** how often the retention job runs, in milliseconds */
  RETENTION_INTERVAL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(3_600_000),
  /** signatures per client address per 10 minutes; beyond it they are stored invalidated, silently */
  SIGN_LIMIT_PER_IP: z.coerce.number().int().min(1).max(100_000_000).default(100),
  /** signatures per email address per 10 minutes (all actions); beyond it stored invalidated, and no email sent */
  SIGN_LIMIT_PER_EMAIL: z.coerce.number().int().min(1).max(100_000_000).default(5),
  /** signatures one integrator API key may record per 10 minutes (/api/v1 and OSDI, all actions), then 429 */
  SIGN_LIMIT_PER_API_KEY: z.coerce.number().int().min(1).max(100_000_000).default(1000),
  /** other public POSTs per client address per 10 minutes, then 429 */
  PUBLIC_POST_LIMIT_PER_IP: z.coerce.number().int().min(1).max(100_000_000).default(300),
  /**
   * load shedding: signatures in flight are capped at the recent answer rate times this, so an
   * admitted signer is answered in about this many milliseconds (503 + Retry-After beyond)
   */
  SHED_SIGNING_LATENCY_MS: z.coerce.number().int().min(1).max(60_000).default(150),
  /** load shedding: ... but that cap is never below this many signatures in flight */
  SHED_MIN_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000_000).default(128),
  /** load shedding: new signatures get 503 + Retry-After while the event loop lags more than this */
  SHED_EVENT_LOOP_LAG_MS: z.coerce.number().int().min(1).max(60_000).default(250),
  /**
   * load shedding: ... or while the oldest unanswered signature has waited longer than this:
   * PostgreSQL has stopped keeping up. The in-flight cap already bounds the latency of admitted
   * signers; this is the backstop, set above the half-second stalls PostgreSQL has now and then
   * (a 60 s bench run had one, and refused 280 signers at a 250 ms threshold)
   */
  SHED_WRITER_WAIT_MS: z.coerce.number().int().min(1).max(60_000).default(1000),
  /**
   * The Prometheus endpoints (GET /metrics) listen on this address, never on PORT. The default
   * keeps them on this machine: a Prometheus elsewhere needs this set to an internal address
   * (and a firewall), as the metrics describe the platform's traffic.
   */
  METRICS_HOST: z
    .string()
    .min(1)
    .regex(/^[a-z0-9.:-]+$/i, 'must be an IP address or a host name such as 127.0.0.1')
    .default('127.0.0.1'),
  /** port of a server process's /metrics; 0 turns it off. Each server process on one machine needs its own. */
  METRICS_PORT: metricsPort(9464),
  /** port of the workers process's /metrics; 0 turns it off */
  WORKERS_METRICS_PORT: metricsPort(9465),
  /**
   * CPU priority (nice, 0-19) of the workers process. Its work (emails, letters) can wait
   * seconds; a signer waiting for an answer cannot. On a machine that also runs the server,
   * a spike's signers get the CPU first and the emails follow when it eases.
   */
  WORKERS_NICE: z.coerce.number().int().min(0).max(19).default(10),
});

function metricsPort(fallback: number) {
  const message = 'must be a port number from 0 to 65535 (0 turns the metrics endpoint off)';
  return z.coerce.number({ error: message }).int(message).min(0, message).max(65535, message).default(fallback);
}

function isAddressOrCidr(value: string): boolean {
  const [addr, bits, ...rest] = value.split('/');
  if (rest.length > 0 || !addr) return false;
  const version = isIP(addr);
  if (version === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n >= 0 && n <= (version === 4 ? 32 : 128);
}

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseConfig(configSchema, env);
}

/** The part of the configuration that names the mail's domain and its DKIM key (what `npm run dns` needs; no SECRET_KEY). */
export function loadMailConfig(env: Record<string, string | undefined> = process.env): Pick<Config, 'MAIL_FROM' | 'DKIM_SELECTOR' | 'DKIM_PRIVATE_KEY'> {
  return parseConfig(configSchema.pick({ MAIL_FROM: true, DKIM_SELECTOR: true, DKIM_PRIVATE_KEY: true }), env);
}

function parseConfig<S extends z.ZodObject>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const picked = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const name = String(first.path[0]);
    throw new ConfigError(`Invalid configuration: ${name} ${first.message === 'Invalid input: expected string, received undefined' ? 'is required' : first.message}`);
  }
  return parsed.data;
}

// CLI entry for the development mailbox (built into server/build/mailbox/main.mjs by
// server/bin/build-processes.mjs; `node --import tsx server/src/mailbox/mailbox.main.ts` also works).
import { pino } from 'pino';
import { startMailbox } from './mailbox.service.js';
import { exitWithParent } from '../shared/parent-watch.ts';

const logger = pino({ name: 'mailbox', level: process.env.LOG_LEVEL || 'info' });

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new Error(`${name} must be a port number from 0 to 65535, got "${raw}"`);
  }
  return port;
}

try {
  const mailbox = await startMailbox({
    smtpPort: portFromEnv('MAILBOX_SMTP_PORT', 1025),
    httpPort: portFromEnv('MAILBOX_HTTP_PORT', 1080),
    logger,
  });
  logger.info(
    { smtpPort: mailbox.smtpPort, httpPort: mailbox.httpPort },
    `Mailbox ready: read mail at http://127.0.0.1:${mailbox.httpPort} (SMTP on 127.0.0.1:${mailbox.smtpPort})`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'mailbox stopping');
    mailbox.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'mailbox failed to close cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  exitWithParent();
} catch (err) {
  logger.error({ err }, 'mailbox failed to start');
  process.exit(1);
}

// A minimal SMTP sink that reads and discards every message, in its own process (started by
// the benchmark), so that the send rates measure the sender, not a parser or a store. It
// answers { count, firstAt, lastAt } when asked over IPC ('count') and resets on 'reset'.
import { SMTPServer } from 'smtp-server';

let count = 0;
let firstAt = 0;
let lastAt = 0;
// letters to officials (addresses at *.gov.example) are counted apart from member emails
let letters = 0;
let firstLetterAt = 0;
let lastLetterAt = 0;
let letterBytes = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  size: 20 * 1024 * 1024,
  onData(stream, session, callback) {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      const now = Date.now();
      if (count === 0) firstAt = now;
      lastAt = now;
      count++;
      if (session.envelope.rcptTo.some((r) => r.address.endsWith('.gov.example'))) {
        if (letters === 0) firstLetterAt = now;
        lastLetterAt = now;
        letters++;
        letterBytes += bytes;
      }
      callback();
    });
  },
});

server.listen(Number(process.env.SINK_PORT ?? 0), '127.0.0.1', () => {
  const address = server.server.address() as { port: number };
  process.send?.({ type: 'ready', port: address.port });
});

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'count') process.send?.({ type: 'count', count, firstAt, lastAt, letters, firstLetterAt, lastLetterAt, letterBytes });
  if (msg.type === 'reset') {
    count = 0;
    firstAt = 0;
    lastAt = 0;
    letters = 0;
    firstLetterAt = 0;
    lastLetterAt = 0;
    letterBytes = 0;
    process.send?.({ type: 'reset' });
  }
});
process.on('disconnect', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

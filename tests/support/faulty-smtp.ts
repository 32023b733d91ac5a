// A programmable SMTP server for fault tests: a real smtp-server on a free port that reads
// each message in full and then, as the test decides per message, accepts it (250), refuses
// it for now (451) or for good (550), hangs (never answers DATA, so the client's socket
// timeout fires), or drops the connection before replying. It records every message whose
// DATA it read, with the Message-ID and the letter id (X-Chorus-Letter), and which of them a
// real server would now hold: the accepted ones and the dropped ones (the remote committed
// the message, only the reply was lost).
import type { Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

export type Fault = 'accept' | 'tempfail' | 'permfail' | 'hang' | 'drop';

export interface SeenMessage {
  /** arrival order, from 1 */
  seq: number;
  at: number;
  to: string[];
  messageId: string | null;
  letterId: string | null;
  /** how many times this Message-ID had arrived, this time included */
  copy: number;
  fault: Fault;
}

export interface Decision {
  fault: Fault;
  /** wait this long before replying (accept, tempfail, permfail) */
  replyDelayMs?: number;
}

export type Decide = (m: Omit<SeenMessage, 'fault' | 'seq' | 'at'>) => Fault | Decision;

export interface FaultySmtp {
  port: number;
  url: string;
  /** every message whose DATA was read, in arrival order */
  seen: SeenMessage[];
  /** the messages the receiving side now holds: accepted, or dropped after DATA */
  held(): SeenMessage[];
  setDecide(decide: Decide): void;
  /** called after each message is recorded, before its reply */
  onSeen(listener: ((m: SeenMessage) => void) | null): void;
  close(): Promise<void>;
}

const header = (raw: string, name: string): string | null => {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m ? m[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() : null;
};

export async function startFaultySmtp(): Promise<FaultySmtp> {
  let decide: Decide = () => 'accept';
  let listener: ((m: SeenMessage) => void) | null = null;
  const seen: SeenMessage[] = [];
  const copies = new Map<string, number>();
  const sockets = new Map<string, Socket>();
  const keyOf = (addr: string | undefined, port: number | undefined) => `${addr}:${port}`;

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    size: 10 * 1024 * 1024,
    // no closeTimeout wait: close() destroys what is left
    closeTimeout: 100,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const messageId = header(raw, 'Message-ID');
        const letterId = header(raw, 'X-Chorus-Letter');
        const copy = (copies.get(messageId ?? '') ?? 0) + 1;
        if (messageId) copies.set(messageId, copy);
        const to = session.envelope.rcptTo.map((r) => r.address);
        const d = decide({ to, messageId, letterId, copy });
        const decision: Decision = typeof d === 'string' ? { fault: d } : d;
        const m: SeenMessage = { seq: seen.length + 1, at: Date.now(), to, messageId, letterId, copy, fault: decision.fault };
        seen.push(m);
        listener?.(m);
        const reply = () => {
          switch (decision.fault) {
            case 'accept':
              return callback(null, 'OK queued');
            case 'tempfail':
              return callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }));
            case 'permfail':
              return callback(Object.assign(new Error('5.1.1 no such mailbox here'), { responseCode: 550 }));
            case 'hang':
              return; // never answer; the client's socket timeout ends it
            case 'drop':
              sockets.get(keyOf(session.remoteAddress, session.remotePort))?.destroy();
              return;
          }
        };
        if (decision.replyDelayMs) setTimeout(reply, decision.replyDelayMs);
        else reply();
      });
    },
  });
  server.server.on('connection', (socket: Socket) => {
    const key = keyOf(socket.remoteAddress, socket.remotePort);
    sockets.set(key, socket);
    socket.on('close', () => sockets.delete(key));
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as { port: number };
  return {
    port,
    url: `smtp://127.0.0.1:${port}?tls=off`,
    seen,
    held: () => seen.filter((m) => m.fault === 'accept' || m.fault === 'drop'),
    setDecide(d) {
      decide = d;
    },
    onSeen(l) {
      listener = l;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets.values()) s.destroy();
        server.close(() => resolve());
      }),
  };
}

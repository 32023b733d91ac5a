// A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: it answers TXT queries from a
// map of names to records, NXDOMAIN for names it does not hold, and no answer for other types.
// node's own resolver (dns.Resolver with setServers) and mailauth, through it, look records up
// here as they would on the internet, without depending on it.
import { createSocket, type RemoteInfo } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface DnsServer {
  /** `127.0.0.1:<port>`, for Resolver.setServers and `npm run dns -- --server` */
  address: string;
  /** name (any case, no trailing dot) to its TXT records, each a list of character strings */
  records: Map<string, string[][]>;
  close(): Promise<void>;
}

const TXT = 16;

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i]! !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return { name: labels.join('.'), end: i + 1 };
}

function answer(query: Buffer, records: Map<string, string[][]>): Buffer | null {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const held = records.get(name.toLowerCase());
  const rrs = held && qtype === TXT ? held : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // response, authoritative, recursion desired copied, recursion available; NXDOMAIN when the name is unknown
  header.writeUInt16BE(0x8000 | 0x0400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (held ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rrs.length, 6);
  const answers = rrs.map((strings) => {
    const rdata = Buffer.concat(
      strings.map((s) => {
        const b = Buffer.from(s, 'latin1');
        if (b.length > 255) throw new Error(`a TXT character string is at most 255 bytes (${b.length})`);
        return Buffer.concat([Buffer.from([b.length]), b]);
      }),
    );
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(TXT, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, question, ...answers]);
}

export async function startDnsServer(records: Map<string, string[][]> = new Map()): Promise<DnsServer> {
  const socket = createSocket('udp4');
  socket.on('message', (msg: Buffer, peer: RemoteInfo) => {
    let reply: Buffer | null = null;
    try {
      reply = answer(msg, records);
    } catch {
      reply = null;
    }
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    records,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

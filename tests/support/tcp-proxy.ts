// A TCP proxy the tests control, put between the platform and a shared service (PostgreSQL,
// Redis). Other people use the machine's PostgreSQL and Redis, so a fault test must never stop
// them: it cuts this proxy instead. `cut()` drops every open connection and stops listening, so
// new connections are refused, as they are when the real server is down; `restore()` listens
// again on the same port.
import { createServer, Socket, type Server } from 'node:net';

export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by this proxy's */
  via(url: string): string;
  readonly up: boolean;
  /** connections accepted since start (to check the platform really goes through the proxy) */
  readonly accepted: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  let accepted = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const srv = createServer((client) => {
        accepted++;
        const upstream = new Socket();
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        upstream.connect(target.port, target.host, () => {
          client.pipe(upstream);
          upstream.pipe(client);
        });
      });
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        port = (srv.address() as { port: number }).port;
        server = srv;
        resolve();
      });
    });

  const stop = () =>
    new Promise<void>((resolve) => {
      const srv = server;
      server = null;
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!srv) return resolve();
      srv.close(() => resolve());
    });

  await listen();
  return {
    get port() {
      return port;
    },
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    get up() {
      return server !== null;
    },
    get accepted() {
      return accepted;
    },
    cut: stop,
    async restore() {
      if (server) return;
      // the port was just released; retry briefly if the kernel still holds it
      for (let i = 0; ; i++) {
        try {
          await listen();
          return;
        } catch (err) {
          if (i >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    close: stop,
  };
}

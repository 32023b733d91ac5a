// The ceiling H: a Fastify 5 hello-world POST in its own process, like the real server, so the
// load generator competes for the same cores in the same way.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/hello', async () => ({ status: 'received' }));
app.get('/hello', async () => ({ status: 'ok' }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address() as { port: number };
process.send?.({ type: 'ready', port: address.port });
process.on('disconnect', () => void app.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

// The bare baseline for idle connections: a Fastify server with @fastify/websocket that accepts
// streams and parks long-polls, and does nothing else.
import process from 'node:process';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';

const app = Fastify();
await app.register(websocket);
app.get('/ready', async () => ({ ok: true }));
app.get('/ws', { websocket: true }, (socket) => {
  socket.send(JSON.stringify({ type: 'ready' }));
});
app.get('/wait', () => new Promise(() => {}));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });

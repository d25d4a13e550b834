import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DeliveryError, signedPost } from '../src/delivery/signed-post.js';

describe('signedPost', () => {
  it('gives up on a receiver that never answers, saying how long it waited', async () => {
    const held: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => held.push(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const started = Date.now();
      const err = await signedPost({
        url,
        secret: 'whsec_' + Buffer.alloc(24, 1).toString('base64'),
        id: 'msg_1',
        body: '{}',
        allowPrivateUrls: true,
        timeoutMs: 200,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect((err as DeliveryError).message).toBe('request failed: no answer within 200 ms');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(held).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { loadConfig } from '../../src/config.js';
import { publicBaseUrl } from '../../src/http/public-url.js';

/** A Koa app as createApp builds it (proxy trust from the config) answering with the base URL. */
async function baseUrlFor(env: Record<string, string>, headers: Record<string, string>): Promise<string> {
  const config = loadConfig({ PORT: '8080', ...env });
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: config.proxyHops });
  app.use((ctx) => {
    ctx.body = publicBaseUrl(ctx, config).href;
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, { headers });
    return await res.text();
  } finally {
    server.close();
  }
}

describe('publicBaseUrl: absolute URLs behind a proxy', () => {
  const forwarded = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'packages.example.org' };

  it('uses PUBLIC_URL when set, whatever the proxy says (deploy.md §1)', async () => {
    const env = { PUBLIC_URL: 'https://git.example.org/', TRUST_PROXY: 'true' };
    assert.equal(await baseUrlFor(env, forwarded), 'https://git.example.org/');
  });

  it('ignores X-Forwarded-* from an untrusted peer', async () => {
    assert.equal(await baseUrlFor({}, forwarded), 'http://localhost:8080/');
  });

  it('honours X-Forwarded-Proto/-Host from a trusted proxy when PUBLIC_URL is not set', async () => {
    assert.equal(await baseUrlFor({ TRUST_PROXY: 'true' }, forwarded), 'https://packages.example.org/');
    // No X-Forwarded-Host: the Host header the proxy passed on.
    assert.match(await baseUrlFor({ TRUST_PROXY: 'true' }, { 'X-Forwarded-Proto': 'https' }), /^https:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('falls back to the configured URL on a malformed forwarded host', async () => {
    const bad = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example/path' };
    assert.equal(await baseUrlFor({ TRUST_PROXY: 'true' }, bad), 'http://localhost:8080/');
  });
});

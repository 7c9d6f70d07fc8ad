import assert from 'node:assert/strict';
import { startFakeForge, type FakeForge } from '../helpers/fake-forge.js';
import { rawRequest } from '../helpers/proxies.js';
import { startStowage, type TestStowage } from '../helpers/stowage.js';
import { isStowagePath } from '../../src/http/passthrough.js';
import { loadConfig } from '../../src/config.js';
import { ESCAPE_PATHS, ROUTING_VECTORS, namesStowageType } from '../deploy/routing-vectors.js';
import { STOWAGE_PATH_PATTERN } from '../../src/http/passthrough.js';

describe('isStowagePath (deploy.md §2)', () => {
  it('agrees with the routing vectors', () => {
    for (const v of ROUTING_VECTORS.filter((x) => x.path.startsWith('/api/packages/'))) {
      assert.equal(isStowagePath(v.path), v.backend === 'stowage', v.path);
    }
  });

  it('keeps every path that names one of our types under some reading', () => {
    const pattern = new RegExp(STOWAGE_PATH_PATTERN);
    for (const path of ESCAPE_PATHS) assert.equal(isStowagePath(path), namesStowageType(path, pattern), path);
  });
});

describe('FORGE_PASSTHROUGH (deploy.md §2 prefix mode)', function () {
  this.timeout(60_000);
  let forge: FakeForge;
  let s: TestStowage;
  const lastCall = () => forge.calls.filter((c) => !c.service).at(-1);

  before(async () => {
    forge = await startFakeForge();
    s = await startStowage({
      engine: 'sqlite',
      env: {
        FORGE_URL: `${forge.url}/`,
        PUBLIC_URL: 'https://git.example.org/',
        FORGE_SERVICE_TOKEN: forge.token('service'),
        FORGE_PASSTHROUGH: 'true',
      },
    });
  });
  after(async () => {
    await s?.stop();
    await forge?.close();
  });
  beforeEach(() => forge.resetCalls());

  it('needs FORGE_URL', () => {
    assert.throws(() => loadConfig({ FORGE_PASSTHROUGH: 'true' }), /FORGE_PASSTHROUGH: needs FORGE_URL/);
  });

  it('returns the forge status, body and WWW-Authenticate verbatim, raw path and query kept', async () => {
    const path = '/api/packages/hush/generic/tool/1.0/tool.bin?x=%2F1&y';
    const res = await rawRequest(s.url, { path });
    assert.deepEqual([res.status, res.body.toString()], [401, 'reqPackageAccess\n']);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="Gitea Package API"');
    const call = lastCall();
    assert.deepEqual([call?.method, call?.route, call?.path, call?.query], ['GET', 'generic-get', '/api/packages/hush/generic/tool/1.0/tool.bin', 'x=%2F1&y=']);
  });

  it('passes the caller credentials, and the forge decides', async () => {
    const res = await rawRequest(s.url, {
      path: '/api/packages/hush/generic/tool/1.0/tool.bin',
      headers: { Authorization: `token ${forge.token('alice-read')}` },
    });
    assert.deepEqual([res.status, res.body.toString()], [404, 'package does not exist\n']);
    assert.equal(lastCall()?.credential, 'token');
  });

  it('does not follow redirects: Location comes back as the forge wrote it', async () => {
    const res = await rawRequest(s.url, { path: '/api/packages/acme-old/generic/tool/1.0/tool.bin?q=1' });
    assert.equal(res.status, 307);
    assert.equal(res.headers.location, '/api/packages/acme/generic/tool/1.0/tool.bin?q=1');
    assert.equal(forge.calls.filter((c) => c.path.startsWith('/api/packages/acme/generic')).length, 0);
  });

  it('drops hop-by-hop headers and appends the client to X-Forwarded-For', async () => {
    await rawRequest(s.url, {
      path: '/api/packages/alice/generic/tool/1.0/tool.bin',
      headers: {
        Connection: 'keep-alive, X-Hop',
        'X-Hop': '1',
        'Keep-Alive': 'timeout=5',
        'Proxy-Authorization': 'Basic eDp5',
        TE: 'trailers',
        'X-Forgejo-OTP': '123456',
        'X-Forwarded-For': '203.0.113.9',
        Range: 'bytes=0-1',
      },
    });
    const names = lastCall()?.headerNames ?? [];
    for (const kept of ['x-forgejo-otp', 'x-forwarded-for', 'range', 'host']) assert.ok(names.includes(kept), kept);
    for (const dropped of ['x-hop', 'keep-alive', 'proxy-authorization', 'te']) assert.ok(!names.includes(dropped), dropped);
  });

  it('streams request bodies on, and the forge answer back', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024, 7);
    const res = await rawRequest(s.url, { method: 'PUT', path: '/api/packages/alice/generic/tool/1.0/big.bin', body });
    assert.deepEqual([res.status, res.body.toString()], [404, '404 page not found\n']);
    assert.equal(lastCall()?.method, 'PUT');
  });

  it('keeps our own types, and paths that only look like another type, in Stowage', async () => {
    for (const path of [
      '/api/packages/alice/arch/core/x86_64/core.db',
      '/api/packages/alice/generic/../arch/core/x86_64/core.db',
      '/api/packages/alice/generic%2F..%2Fdebian/dists/bookworm/Release',
      '/api/packages/alice/deb%69an/dists/bookworm/Release',
    ]) {
      const res = await rawRequest(s.url, { path });
      assert.equal(res.status, 404, path);
      assert.equal(forge.calls.filter((c) => c.path === path.split('?')[0]).length, 0, path);
    }
  });

  it('leaves the rest of Stowage alone: probes stay local', async () => {
    const res = await rawRequest(s.url, { path: '/healthz' });
    assert.equal(res.status, 200);
    assert.equal(forge.calls.filter((c) => c.path === '/healthz').length, 0);
  });

  it('answers 502 when the forge cannot be reached', async () => {
    forge.fault('unknown', 'reset');
    try {
      const res = await rawRequest(s.url, { path: '/api/packages/alice/npm/left-pad' });
      assert.deepEqual([res.status, res.body.toString()], [502, 'forge unavailable']);
    } finally {
      forge.fault('unknown', undefined);
    }
  });
});

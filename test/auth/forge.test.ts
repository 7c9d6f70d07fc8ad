import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ConfigError, type ForgeConfig } from '../../src/config.js';
import type { AccessRequest, Decision, Mode } from '../../src/auth/decision.js';
import {
  createForgeAuthorizer,
  isValidOwnerSegment,
  renamedOwner,
  type ForgeAuthorizer,
} from '../../src/auth/forge.js';
import { createLogger } from '../../src/log.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { startFakeForge, type FakeForge, type ForgeCall } from '../helpers/fake-forge.js';
import {
  SCENARIOS,
  requestSecrets,
  type Outcome,
  type ScenarioRequest,
} from '../helpers/forge-scenarios.js';

const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

function outcomeOf(decision: Decision): Outcome | 503 {
  switch (decision.kind) {
    case 'allow':
      return 'ok';
    case 'badCredential':
      return 'B';
    case 'denied':
      return 'C';
    case 'publicOnly':
      return 403;
    case 'ownerUnknown':
      return 404;
    case 'renamed':
      return 307;
    case 'unavailable':
      return 503;
  }
}

function accessRequest(
  owner: string,
  mode: Mode,
  request: ScenarioRequest = { headers: {}, query: {} },
  extra: Partial<AccessRequest> = {},
): AccessRequest {
  return {
    owner,
    mode,
    headers: request.headers,
    query: new URLSearchParams(request.query),
    allowApiKeyHeader: false,
    forwardedFor: '203.0.113.7',
    ...extra,
  };
}

const auth = (authorization: string, extra: Record<string, string> = {}): ScenarioRequest => ({
  headers: { authorization, ...extra },
  query: {},
});

/** A clock the tests move; never slept on. */
class TestClock {
  ms = Date.now();
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

interface Harness {
  readonly authz: ForgeAuthorizer;
  readonly clock: TestClock;
  readonly lines: string[];
}

const probes = (calls: readonly ForgeCall[]) =>
  calls.filter((c) => c.path.startsWith('/api/packages/'));

describe('auth/forge: createForgeAuthorizer against the fake forge', function () {
  let forge: FakeForge;
  let metrics: Metrics;
  const running: ForgeAuthorizer[] = [];

  async function startAuthorizer(
    config: Partial<ForgeConfig> = {},
    options: { clock?: TestClock; start?: boolean } = {},
  ): Promise<Harness> {
    const clock = options.clock ?? new TestClock();
    const lines: string[] = [];
    const log = createLogger('trace', { write: (line: string) => void lines.push(line) });
    const authz = createForgeAuthorizer({
      config: {
        url: new URL(`${forge.url}/`),
        serviceToken: forge.token('service'),
        timeoutMs: 2000,
        connectTimeoutMs: 1000,
        authCacheTtlS: 30,
        authNegativeTtlS: 5,
        ownerCacheTtlS: 60,
        authCacheMaxEntries: 1000,
        oauthPrefilter: 'auto',
        ...config,
      },
      log,
      metrics,
      now: clock.now,
    });
    running.push(authz);
    if (options.start !== false) await authz.start();
    return { authz, clock, lines };
  }

  before(async () => {
    forge = await startFakeForge();
    metrics = createMetrics();
  });
  after(() => forge.close());
  afterEach(async () => {
    await Promise.all(running.splice(0).map((a) => a.stop()));
    forge.reset();
  });

  describe('forge.md §10.5 required scenarios', () => {
    for (const row of SCENARIOS) {
      for (const mode of ['read', 'write'] as const) {
        const knobs = row.knobs ? ` (${Object.keys(row.knobs).join(', ')})` : '';
        it(`${row.caller}${knobs}, ${mode} on ${row.owner}: ${row[mode]}`, async () => {
          if (row.knobs) forge.set(row.knobs);
          const { authz } = await startAuthorizer();
          const request = await row.request(forge);
          forge.resetCalls();

          const decision = await authz.decide(accessRequest(row.owner, mode, request));

          assert.equal(outcomeOf(decision), row[mode]);
          if (decision.kind === 'renamed') assert.equal(decision.newOwner, row.renamedTo);
          if (decision.kind === 'allow' && mode === 'write') {
            assert.ok(decision.uploader, 'an allowed write names its uploader');
          }
          if (row.noProbe) assert.deepEqual(probes(forge.calls), []);
          for (const call of forge.calls) {
            // §5.1: the service token only on F2–F5, caller credentials only on F6–F8.
            if (call.path.startsWith('/api/packages/')) assert.equal(call.service, false);
            if (call.path.startsWith('/api/v1/')) assert.equal(call.service, true, call.path);
          }
        });
      }
    }
  });

  describe('request flow', () => {
    it('answers an empty, ".", ".." or >255-byte owner with 404 and no forge call', async () => {
      const { authz } = await startAuthorizer();
      forge.resetCalls();
      for (const owner of ['', '.', '..', 'x'.repeat(256), 'é'.repeat(128)]) {
        const decision = await authz.decide(accessRequest(owner, 'read', auth('token x')));
        assert.equal(outcomeOf(decision), 404, JSON.stringify(owner.slice(0, 8)));
      }
      assert.equal(forge.calls.length, 0);
      assert.equal(isValidOwnerSegment('x'.repeat(255)), true);
    });

    it('escapes the owner name in every forge path', async () => {
      const { authz } = await startAuthorizer();
      forge.resetCalls();
      const decision = await authz.decide(accessRequest('no/such?x', 'read'));
      assert.equal(outcomeOf(decision), 404);
      assert.deepEqual(
        forge.calls.map((c) => c.path),
        ['/api/v1/orgs/no%2Fsuch%3Fx', '/api/v1/users/no%2Fsuch%3Fx'],
      );
    });

    it('sends a probe only the allowed headers, and the query tokens only', async () => {
      const { authz } = await startAuthorizer();
      forge.resetCalls();
      const request: ScenarioRequest = {
        headers: {
          authorization: `token ${forge.token('alice-write')}`,
          'x-forgejo-otp': '111111',
          'x-gitea-otp': '222222',
          cookie: 'session=1',
          'x-webauth-user': 'root',
          'x-nuget-apikey': 'k',
        },
        query: { access_token: 'abcdef', page: '2' },
      };
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read', request))), 'ok');
      const [probe] = probes(forge.calls);
      assert.ok(probe);
      assert.deepEqual([...probe.headerNames].sort(), [
        'accept',
        'authorization',
        'connection',
        'host',
        'x-forgejo-otp',
        'x-forwarded-for',
        'x-gitea-otp',
      ]);
      assert.equal(probe.query, 'access_token=REDACTED');
      assert.equal(probe.method, 'GET');
      assert.equal(probe.path, '/api/packages/alice/generic/stowage~probe/0/x');
    });

    it('probes a write with DELETE on the canonical owner name', async () => {
      const { authz } = await startAuthorizer();
      forge.resetCalls();
      const decision = await authz.decide(
        accessRequest('ALICE', 'write', auth(`token ${forge.token('alice-write')}`)),
      );
      assert.equal(decision.kind, 'allow');
      if (decision.kind === 'allow') assert.deepEqual(decision.owner, { id: 2, name: 'alice' });
      const [probe] = probes(forge.calls);
      assert.deepEqual(
        [probe?.method, probe?.path],
        ['DELETE', '/api/packages/alice/generic/stowage~probe/0'],
      );
    });

    it('denies an anonymous write with a challenge and no probe', async () => {
      const { authz } = await startAuthorizer();
      await authz.decide(accessRequest('alice', 'read')); // owner cached
      forge.resetCalls();
      // OTP headers alone are no credential.
      const request = accessRequest('alice', 'write', {
        headers: { 'x-forgejo-otp': '123456' },
        query: {},
      });
      assert.equal(outcomeOf(await authz.decide(request)), 'C');
      assert.equal(forge.calls.length, 0);
    });

    it('forwards X-Api-Key as a token only where allowed and without Authorization', async () => {
      const { authz } = await startAuthorizer();
      const key = { 'x-api-key': forge.token('alice-write') };
      const write = (headers: Record<string, string>, allowApiKeyHeader: boolean) =>
        authz.decide(
          accessRequest('alice', 'write', { headers, query: {} }, { allowApiKeyHeader }),
        );
      assert.equal(outcomeOf(await write(key, true)), 'ok');
      assert.equal(outcomeOf(await write(key, false)), 'C'); // anonymous
      assert.equal(outcomeOf(await write({ ...key, authorization: 'Digest x' }, true)), 'B');
    });

    it('follows a rename made after the owner was cached', async () => {
      const { authz } = await startAuthorizer();
      const carol = auth(`token ${forge.token('carol-write')}`);
      assert.equal(outcomeOf(await authz.decide(accessRequest('acme', 'read', carol))), 'ok');
      forge.rename('acme', 'acme2');
      const bob = auth(`token ${forge.token('bob-write')}`);
      const moved = await authz.decide(accessRequest('acme', 'read', bob));
      assert.deepEqual(moved, { kind: 'renamed', newOwner: 'acme2' });
      forge.resetCalls();
      // The owner entry was dropped: the next lookup asks F3 again and learns the rename there.
      const again = await authz.decide(accessRequest('acme', 'read'));
      assert.deepEqual(again, { kind: 'renamed', newOwner: 'acme2' });
      assert.deepEqual(
        forge.calls.map((c) => c.route),
        ['orgs'],
      );
    });

    it('reads the new name where Forgejo replaced the first occurrence of the old one', () => {
      const sent = '/api/packages/api/generic/stowage~probe/0/x';
      assert.equal(
        renamedOwner(sent, 'api', '/newapi/packages/api/generic/stowage~probe/0/x'),
        'newapi',
      );
      assert.equal(
        renamedOwner(sent, 'api', '/api/packages/newapi/generic/stowage~probe/0/x'),
        'newapi',
      );
      assert.equal(
        renamedOwner('/api/v1/orgs/a%20b', 'a%20b', 'https://f.example/git/api/v1/orgs/c%20d?x=1'),
        'c d',
      );
      assert.equal(renamedOwner('/api/v1/orgs/old', 'old', '/somewhere/else'), undefined);
      assert.equal(renamedOwner('/api/v1/orgs/old', 'old', undefined), undefined);
    });
  });

  describe('caches (forge.md §7)', () => {
    it('answers an identical request from the cache, and asks again after the TTL', async () => {
      const { authz, clock } = await startAuthorizer();
      const request = accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`));
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
      forge.resetCalls();
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
      assert.equal(forge.calls.length, 0);
      clock.advance(29_000);
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
      assert.equal(forge.calls.length, 0);
      clock.advance(1_001);
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
      assert.deepEqual(probes(forge.calls).length, 1);
    });

    it('asks again for the same token under another Basic username', async () => {
      const { authz } = await startAuthorizer();
      const token = forge.token('alice-write');
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('alice', 'read', auth(basic('alice', token))))),
        'ok',
      );
      forge.resetCalls();
      assert.equal(
        outcomeOf(
          await authz.decide(accessRequest('alice', 'read', auth(basic('mallory', token)))),
        ),
        'ok',
      );
      assert.equal(probes(forge.calls).length, 1);
    });

    it('asks again for the same password with another OTP', async () => {
      const { authz } = await startAuthorizer();
      const otto = basic('otto', 'otto-pw');
      const ok = await authz.decide(
        accessRequest('otto', 'read', auth(otto, { 'x-forgejo-otp': '123456' })),
      );
      assert.equal(outcomeOf(ok), 'ok');
      forge.resetCalls();
      const other = await authz.decide(
        accessRequest('otto', 'read', auth(otto, { 'x-gitea-otp': '123456' })),
      );
      assert.equal(outcomeOf(other), 'ok'); // the double accepts Gitea's header when alone
      assert.equal(probes(forge.calls).length, 1);
      const wrong = await authz.decide(
        accessRequest('otto', 'read', auth(otto, { 'x-forgejo-otp': '000000' })),
      );
      assert.equal(outcomeOf(wrong), 'B');
    });

    it('never lets an allow for alice-write answer alice-read or an anonymous caller', async () => {
      const { authz } = await startAuthorizer();
      const write = auth(`token ${forge.token('alice-write')}`);
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'write', write))), 'ok');
      assert.equal(outcomeOf(await authz.decide(accessRequest('lena', 'read', write))), 'ok');
      forge.resetCalls();
      const read = auth(`token ${forge.token('alice-read')}`);
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'write', read))), 'C');
      assert.equal(outcomeOf(await authz.decide(accessRequest('lena', 'read'))), 'C');
      assert.equal(probes(forge.calls).length, 2);
    });

    it('lets a cached Write allow answer a Read, never a Read allow a Write', async () => {
      const { authz } = await startAuthorizer();
      const write = auth(`token ${forge.token('alice-write')}`);
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'write', write))), 'ok');
      forge.resetCalls();
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read', write))), 'ok');
      assert.equal(forge.calls.length, 0);

      const carol = auth(`token ${forge.token('carol-write')}`);
      assert.equal(outcomeOf(await authz.decide(accessRequest('acme', 'read', carol))), 'ok');
      forge.resetCalls();
      assert.equal(outcomeOf(await authz.decide(accessRequest('acme', 'write', carol))), 'ok');
      assert.deepEqual(
        probes(forge.calls).map((c) => c.method),
        ['DELETE', 'GET'],
      ); // F7, then F8
    });

    it('probes a revoked token again only after the negative TTL of 5 s', async () => {
      const { authz, clock } = await startAuthorizer();
      const revoked = accessRequest('alice', 'read', auth(`token ${forge.token('revoked')}`));
      assert.equal(outcomeOf(await authz.decide(revoked)), 'B');
      forge.resetCalls();
      clock.advance(4_999);
      assert.equal(outcomeOf(await authz.decide(revoked)), 'B');
      // Bad credential is decided before the owner: other owners do not ask either.
      assert.equal(outcomeOf(await authz.decide({ ...revoked, owner: 'nosuch' })), 'B');
      assert.equal(forge.calls.length, 0);
      clock.advance(2);
      assert.equal(outcomeOf(await authz.decide(revoked)), 'B');
      assert.equal(probes(forge.calls).length, 1);
    });

    it('sees a deleted token after the positive TTL, not before', async () => {
      const { authz, clock } = await startAuthorizer();
      const request = accessRequest('alice', 'read', auth(`token ${forge.token('alice-all')}`));
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
      forge.deleteToken('alice-all');
      assert.equal(outcomeOf(await authz.decide(request)), 'ok'); // the documented latency
      clock.advance(30_000);
      assert.equal(outcomeOf(await authz.decide(request)), 'B');
    });

    it('sends one probe for concurrent identical requests', async () => {
      const { authz } = await startAuthorizer();
      await authz.decide(accessRequest('alice', 'read')); // owner cached
      forge.set({ latencyMs: 50 });
      forge.resetCalls();
      const request = accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`));
      const decisions = await Promise.all([1, 2, 3, 4, 5].map(() => authz.decide(request)));
      assert.deepEqual(decisions.map(outcomeOf), ['ok', 'ok', 'ok', 'ok', 'ok']);
      assert.equal(probes(forge.calls).length, 1);
    });

    it('keeps at most AUTH_CACHE_MAX_ENTRIES decisions', async () => {
      const { authz } = await startAuthorizer({ authCacheMaxEntries: 1 });
      const a = accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`));
      const b = accessRequest('alice', 'read', auth(`token ${forge.token('alice-all')}`));
      await authz.decide(a);
      await authz.decide(b);
      forge.resetCalls();
      assert.equal(outcomeOf(await authz.decide(a)), 'ok');
      assert.equal(probes(forge.calls).length, 1);
    });

    it('caches an unknown owner for 5 s only', async () => {
      const { authz, clock } = await startAuthorizer();
      assert.equal(outcomeOf(await authz.decide(accessRequest('nosuch', 'read'))), 404);
      forge.resetCalls();
      clock.advance(4_000);
      assert.equal(outcomeOf(await authz.decide(accessRequest('NoSuch', 'read'))), 404);
      assert.equal(forge.calls.length, 0);
      clock.advance(1_001);
      assert.equal(outcomeOf(await authz.decide(accessRequest('nosuch', 'read'))), 404);
      assert.deepEqual(
        forge.calls.map((c) => c.route),
        ['orgs', 'users'],
      );
    });
  });

  describe('identity (forge.md §5.3 step 7)', () => {
    it('records uploader 2 / alice on an allowed upload, from F8 then F5', async () => {
      const { authz } = await startAuthorizer();
      forge.resetCalls();
      const decision = await authz.decide(
        accessRequest('alice', 'write', auth(basic('alice', 'alice-pw'))),
      );
      assert.deepEqual(decision, {
        kind: 'allow',
        owner: { id: 2, name: 'alice' },
        uploader: { id: 2, login: 'alice' },
      });
      assert.deepEqual(
        forge.calls.map((c) => `${c.route} ${c.query}`),
        ['orgs ', 'users ', 'generic-delete ', 'conan-authenticate ', 'users-search uid=2&limit=1'],
      );
    });

    it('records the id only when the users page is disabled', async () => {
      forge.set({ disableUsersPage: true });
      const { authz } = await startAuthorizer();
      const decision = await authz.decide(
        accessRequest('acme', 'write', auth(`token ${forge.token('carol-write')}`)),
      );
      assert.deepEqual(decision, {
        kind: 'allow',
        owner: { id: 100, name: 'acme' },
        uploader: { id: 4, login: undefined },
      });
    });

    it('reuses a known identity, and a known login across credentials', async () => {
      const { authz } = await startAuthorizer();
      const write = auth(`token ${forge.token('alice-write')}`);
      await authz.decide(accessRequest('alice', 'write', write));
      forge.resetCalls();
      const again = await authz.decide(accessRequest('acme', 'write', write));
      assert.equal(again.kind === 'allow' && again.uploader?.login, 'alice');
      assert.deepEqual(
        forge.calls.map((c) => c.route),
        ['orgs', 'generic-delete'],
      );
      forge.resetCalls();
      const other = await authz.decide(
        accessRequest('acme', 'write', auth(`token ${forge.token('alice-all')}`)),
      );
      assert.equal(other.kind === 'allow' && other.uploader?.login, 'alice');
      assert.deepEqual(
        forge.calls.map((c) => c.route),
        ['generic-delete', 'conan-authenticate'],
      );
    });

    it('answers 503 when F8 fails, rather than allowing without an uploader', async () => {
      const { authz } = await startAuthorizer();
      forge.fault('conan-authenticate', '500');
      const decision = await authz.decide(
        accessRequest('alice', 'write', auth(basic('alice', 'alice-pw'))),
      );
      assert.equal(outcomeOf(decision), 503);
    });
  });

  describe('forge down (forge.md §8)', () => {
    it('answers 503 within FORGE_TIMEOUT_MS + 1 s when the forge hangs', async () => {
      const { authz } = await startAuthorizer({ timeoutMs: 300 });
      forge.fault('generic-get', 'hang');
      const started = performance.now();
      const decision = await authz.decide(
        accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`)),
      );
      const elapsed = performance.now() - started;
      assert.equal(outcomeOf(decision), 503);
      assert.ok(elapsed < 1300, `took ${Math.round(elapsed)} ms`);
    });

    it('answers 503 to a reset, after one retry of the GET, and none of the DELETE', async () => {
      const { authz } = await startAuthorizer();
      forge.fault('generic-get', 'reset');
      forge.fault('generic-delete', 'reset');
      forge.resetCalls();
      const token = auth(`token ${forge.token('alice-write')}`);
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read', token))), 503);
      assert.deepEqual(
        probes(forge.calls).map((c) => c.method),
        ['GET', 'GET'],
      );
      forge.resetCalls();
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'write', token))), 503);
      assert.deepEqual(
        probes(forge.calls).map((c) => c.method),
        ['DELETE'],
      );
    });

    it('answers 503 to a 500 and does not cache it', async () => {
      const { authz } = await startAuthorizer();
      forge.fault('generic-get', '500');
      const request = accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`));
      assert.equal(outcomeOf(await authz.decide(request)), 503);
      forge.fault('generic-get', undefined);
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
    });

    for (const fault of ['status:200', 'status:302', 'status:400', 'oversize'] as const) {
      it(`answers 503 to a probe answer outside §5.4 (${fault})`, async () => {
        const { authz } = await startAuthorizer();
        forge.fault('generic-get', fault);
        const request = accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`));
        assert.equal(outcomeOf(await authz.decide(request)), 503);
      });
    }

    it('answers 503 when an owner lookup fails, also for anonymous callers', async () => {
      const { authz } = await startAuthorizer();
      forge.fault('orgs', '503');
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read'))), 503);
      forge.fault('orgs', 'status:401');
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read'))), 503);
    });

    it('opens the breaker after 5 failures, then sends one trial after 10 s', async () => {
      const { authz, clock } = await startAuthorizer();
      await authz.decide(accessRequest('alice', 'read')); // owner cached
      forge.fault('generic-get', '500');
      forge.resetCalls();
      const request = accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`));
      for (let i = 0; i < 5; i++) assert.equal(outcomeOf(await authz.decide(request)), 503);
      assert.equal(forge.calls.length, 5);
      assert.equal(authz.status(), 'down');
      assert.equal(outcomeOf(await authz.decide(request)), 503);
      assert.equal(forge.calls.length, 5, 'no call while open');

      clock.advance(10_000);
      assert.equal(outcomeOf(await authz.decide(request)), 503); // the trial fails: open again
      assert.equal(forge.calls.length, 6);
      assert.equal(outcomeOf(await authz.decide(request)), 503);
      assert.equal(forge.calls.length, 6);

      forge.fault('generic-get', undefined);
      clock.advance(10_000);
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
      assert.equal(authz.status(), 'ok');
    });

    it('still answers from live cache entries while the breaker is open, never from expired ones', async () => {
      const { authz, clock } = await startAuthorizer();
      const cached = accessRequest('alice', 'read', auth(`token ${forge.token('alice-read')}`));
      assert.equal(outcomeOf(await authz.decide(cached)), 'ok');
      forge.fault('any', 'reset');
      const other = accessRequest('alice', 'read', auth(`token ${forge.token('alice-all')}`));
      for (let i = 0; i < 5; i++) assert.equal(outcomeOf(await authz.decide(other)), 503);
      assert.equal(authz.status(), 'down');
      assert.equal(outcomeOf(await authz.decide(cached)), 'ok');
      clock.advance(30_000);
      assert.equal(outcomeOf(await authz.decide(cached)), 503);
    });

    it('starts with an unreachable forge and answers 503', async () => {
      const dead = await startFakeForge();
      const url = dead.url;
      await dead.close();
      const clock = new TestClock();
      const lines: string[] = [];
      const authz = createForgeAuthorizer({
        config: {
          url: new URL(`${url}/`),
          serviceToken: forge.token('service'),
          timeoutMs: 500,
          connectTimeoutMs: 500,
          authCacheTtlS: 30,
          authNegativeTtlS: 5,
          ownerCacheTtlS: 60,
          authCacheMaxEntries: 100,
          oauthPrefilter: 'auto',
        },
        log: createLogger('trace', { write: (l: string) => void lines.push(l) }),
        metrics,
        now: clock.now,
      });
      running.push(authz);
      await authz.start(); // does not throw: forge.md §8 "unreachable forge does not"
      assert.equal(authz.status(), 'down');
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read'))), 503);
    });
  });

  describe('startup checks (forge.md §5.2 F2, §8)', () => {
    it('fails start() in one line when the service token is refused', async () => {
      const { authz } = await startAuthorizer(
        { serviceToken: forge.token('revoked') },
        { start: false },
      );
      await assert.rejects(authz.start(), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^FORGE_SERVICE_TOKEN: [^\n]*401/);
        return true;
      });
    });

    it('fails start() when the service token belongs to a non-admin', async () => {
      const { authz } = await startAuthorizer(
        { serviceToken: forge.token('alice-all') },
        { start: false },
      );
      await assert.rejects(
        authz.start(),
        /^Error: FORGE_SERVICE_TOKEN: forge user alice is not a site admin$/,
      );
    });

    it('fails start() when the service token lacks read:user', async () => {
      const { authz } = await startAuthorizer(
        { serviceToken: forge.token('root-pkg') },
        { start: false },
      );
      await assert.rejects(authz.start(), /403/);
    });

    it('retries F2 after a forge error, and fails then if the token is not an admin', async () => {
      forge.fault('user', '503');
      const { authz } = await startAuthorizer({ serviceToken: forge.token('alice-all') });
      assert.equal(authz.status(), 'down');
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read'))), 503);
      forge.fault('user', undefined);
      await assert.rejects(authz.checkNow(), ConfigError);
    });

    it('reports ok once F1, F2 and the canary have passed', async () => {
      const { authz, lines } = await startAuthorizer();
      assert.equal(authz.status(), 'ok');
      assert.ok(lines.some((l) => l.includes('"version":"11.0.0+gitea-1.22.0"')));
    });
  });

  describe('canary (forge.md §5.5)', () => {
    it('answers every request 503 while packages are disabled on the forge', async () => {
      forge.set({ packagesEnabled: false });
      const { authz } = await startAuthorizer();
      assert.equal(authz.status(), 'down');
      const requests = [
        accessRequest('alice', 'read'),
        accessRequest('acme', 'write', auth(`token ${forge.token('alice-write')}`)),
        accessRequest('alice', 'read', auth(`token ${forge.token('revoked')}`)),
        accessRequest('nosuch', 'read'),
      ];
      for (const request of requests) assert.equal(outcomeOf(await authz.decide(request)), 503);

      forge.set({ packagesEnabled: true });
      await authz.checkNow();
      assert.equal(authz.status(), 'ok');
      assert.equal(outcomeOf(await authz.decide(requests[0]!)), 'ok');

      forge.set({ packagesEnabled: false });
      await authz.checkNow();
      assert.equal(outcomeOf(await authz.decide(requests[0]!)), 503);
    });

    it('sends 40 zeros as a token for the service login, and no service token', async () => {
      forge.resetCalls();
      await startAuthorizer();
      const canary = probes(forge.calls);
      assert.deepEqual(
        canary.map((c) => [c.path, c.credential, c.service]),
        [['/api/packages/root/generic/stowage~probe/0/x', 'token', false]],
      );
    });

    it('keeps a passed canary through a forge error', async () => {
      const { authz } = await startAuthorizer();
      forge.fault('generic-get', '500');
      await authz.checkNow();
      forge.fault('generic-get', undefined);
      assert.equal(outcomeOf(await authz.decide(accessRequest('alice', 'read'))), 'ok');
    });
  });

  describe('OAuth2 pre-filter in the flow (forge.md §6)', () => {
    it('probes a refresh token when the forge signs with HS256 (filter off)', async () => {
      forge.set({ oauth2: 'HS256' });
      const { authz } = await startAuthorizer();
      const jwt = await forge.mintAccessToken(1, { tt: 1 });
      forge.resetCalls();
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('alice', 'read', auth(`Bearer ${jwt}`)))),
        'B',
      );
      assert.equal(probes(forge.calls).length, 1);
      const good = await forge.mintAccessToken(1);
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('alice', 'write', auth(`Bearer ${good}`)))),
        'ok',
      );
    });

    it('probes every JWT when FORGE_OAUTH_PREFILTER=off, and never reads discovery', async () => {
      forge.resetCalls();
      const { authz } = await startAuthorizer({ oauthPrefilter: 'off' });
      assert.deepEqual(
        forge.calls.filter((c) => c.route === 'openid-configuration'),
        [],
      );
      const jwt = await forge.mintAccessToken(1, { foreignKey: true });
      forge.resetCalls();
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('alice', 'read', auth(`Bearer ${jwt}`)))),
        'B',
      );
      assert.equal(probes(forge.calls).length, 1);
    });

    it('probes a JWT of another issuer, and one in a query or Basic position is filtered too', async () => {
      const { authz } = await startAuthorizer();
      const foreign = await forge.mintAccessToken(1, { foreignIssuer: true });
      forge.resetCalls();
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('alice', 'read', auth(`token ${foreign}`)))),
        'B',
      );
      assert.equal(probes(forge.calls).length, 1);

      const refresh = await forge.mintAccessToken(1, { tt: 1 });
      forge.resetCalls();
      const inQuery = accessRequest('alice', 'read', {
        headers: {},
        query: { access_token: refresh },
      });
      assert.equal(outcomeOf(await authz.decide(inQuery)), 'B');
      const inBasic = accessRequest('alice', 'read', auth(basic('alice', refresh)));
      assert.equal(outcomeOf(await authz.decide(inBasic)), 'B');
      assert.deepEqual(probes(forge.calls), []);
    });

    it('does not reject when another secret could still be accepted', async () => {
      const { authz } = await startAuthorizer();
      const refresh = await forge.mintAccessToken(1, { tt: 1 });
      const request = accessRequest('alice', 'write', {
        headers: { authorization: `token ${forge.token('alice-write')}` },
        query: { token: refresh },
      });
      assert.equal(outcomeOf(await authz.decide(request)), 'ok');
    });

    it('accepts ES256 access tokens and rejects ES256 refresh tokens', async () => {
      forge.set({ oauth2: 'ES256' });
      const { authz } = await startAuthorizer();
      const good = await forge.mintAccessToken(2);
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('acme', 'read', auth(`Bearer ${good}`)))),
        'ok',
      );
      const refresh = await forge.mintAccessToken(2, { tt: 1 });
      forge.resetCalls();
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('acme', 'read', auth(`Bearer ${refresh}`)))),
        'B',
      );
      assert.deepEqual(probes(forge.calls), []);
    });

    it('sees a revoked grant at the forge, not locally', async () => {
      const { authz } = await startAuthorizer();
      const jwt = await forge.mintAccessToken(2);
      forge.revokeGrant(2);
      forge.resetCalls();
      assert.equal(
        outcomeOf(await authz.decide(accessRequest('acme', 'read', auth(`Bearer ${jwt}`)))),
        'B',
      );
      assert.equal(probes(forge.calls).length, 1);
    });
  });

  describe('redaction (forge.md §9)', () => {
    it('logs no fixture token, password, OTP or JWT, whatever the outcome', async () => {
      const clock = new TestClock();
      const all: string[] = [];
      const secrets = new Set<string>();
      for (const row of SCENARIOS) {
        if (row.knobs) forge.set(row.knobs);
        const { authz, lines } = await startAuthorizer({}, { clock });
        const request = await row.request(forge);
        for (const s of requestSecrets(request)) secrets.add(s);
        for (const mode of ['read', 'write'] as const) {
          await authz.decide(accessRequest(row.owner, mode, request));
        }
        // Failures log too.
        forge.fault('generic-delete', '500');
        await authz.decide(accessRequest(row.owner, 'write', request));
        forge.reset();
        await authz.stop();
        all.push(...lines);
      }
      for (const s of forge.secrets()) secrets.add(s);
      secrets.add(forge.token('service'));
      const log = all.join('');
      assert.ok(all.length > SCENARIOS.length * 2, 'the decisions were logged');
      assert.match(log, /"cred":"[0-9a-f]{8}"/);
      for (const secret of secrets)
        assert.equal(log.includes(secret), false, `leaked ${secret.slice(0, 12)}…`);
    });
  });
});

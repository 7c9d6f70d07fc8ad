import assert from 'node:assert/strict';
import { SignJWT, generateKeyPair } from 'jose';
import { createOAuthPrefilter, type OAuthPrefilter } from '../../src/auth/oauth.js';
import { startFakeForge, type FakeForge } from '../helpers/fake-forge.js';

describe('auth/oauth: createOAuthPrefilter', () => {
  let forge: FakeForge;
  let clockMs: number;

  before(async () => {
    forge = await startFakeForge();
  });
  after(() => forge.close());
  beforeEach(() => {
    clockMs = Date.now();
  });
  afterEach(() => forge.reset());

  /** A filter configured from the double's real discovery document. */
  async function prefilter(setting: 'auto' | 'off' = 'auto'): Promise<OAuthPrefilter> {
    const filter = createOAuthPrefilter({
      forgeUrl: new URL(`${forge.url}/`),
      setting,
      now: () => clockMs,
    });
    const res = await fetch(`${forge.url}/.well-known/openid-configuration`);
    filter.configure({ status: res.status, body: await res.text() });
    return filter;
  }

  describe('enabling (discovery, F9)', () => {
    it('turns on with the advertised asymmetric algorithm', async () => {
      const filter = await prefilter();
      assert.deepEqual([filter.state(), filter.algorithm()], ['on', 'RS256']);
    });

    it('turns off on a 404 (OAuth2 disabled) and on HS256', async () => {
      forge.set({ oauth2: 'off' });
      assert.equal((await prefilter()).state(), 'off');
      forge.set({ oauth2: 'HS256' });
      assert.equal((await prefilter()).state(), 'off');
    });

    it('stays pending on any other answer, so the caller retries', () => {
      const filter = createOAuthPrefilter({
        forgeUrl: new URL('http://f.invalid/'),
        setting: 'auto',
        now: Date.now,
      });
      assert.equal(filter.configure({ status: 502, body: '' }), 'pending');
      assert.equal(filter.configure({ status: 404, body: '' }), 'off');
    });

    it('stays off when FORGE_OAUTH_PREFILTER=off, whatever discovery says', async () => {
      const filter = await prefilter('off');
      assert.equal(filter.state(), 'off');
      const jwt = await forge.mintAccessToken(1, { tt: 1 });
      assert.deepEqual(await filter.check(jwt), { verdict: 'skip', reason: 'filter off' });
    });
  });

  describe('check', () => {
    it('passes a fresh access token, and one lacking tt', async () => {
      const filter = await prefilter();
      assert.equal((await filter.check(await forge.mintAccessToken(1))).verdict, 'pass');
      assert.equal(
        (await filter.check(await forge.mintAccessToken(1, { tt: null }))).verdict,
        'pass',
      );
    });

    it('rejects a refresh token (tt = 1)', async () => {
      const filter = await prefilter();
      const verdict = await filter.check(await forge.mintAccessToken(1, { tt: 1 }));
      assert.deepEqual(verdict, { verdict: 'reject', reason: 'not an access token' });
    });

    it('allows 60 s of clock skew on exp and iat, and rejects beyond', async () => {
      const filter = await prefilter();
      const verdict = async (opts: { expSeconds?: number; iat?: number }) =>
        (await filter.check(await forge.mintAccessToken(1, opts))).verdict;
      assert.equal(await verdict({ expSeconds: -30, iat: -3630 }), 'pass');
      assert.equal(await verdict({ expSeconds: -90, iat: -3690 }), 'reject');
      assert.equal(await verdict({ iat: 30 }), 'pass');
      assert.equal(await verdict({ iat: 120 }), 'reject');
    });

    it('judges expiry on the injected clock', async () => {
      const filter = await prefilter();
      const jwt = await forge.mintAccessToken(1, { expSeconds: 3600 });
      assert.equal((await filter.check(jwt)).verdict, 'pass');
      clockMs += 2 * 3600_000;
      assert.deepEqual(await filter.check(jwt), { verdict: 'reject', reason: 'expired' });
    });

    it("rejects a bad signature under the forge's kid", async () => {
      const filter = await prefilter();
      const verdict = await filter.check(await forge.mintAccessToken(1, { foreignKey: true }));
      assert.deepEqual(verdict, { verdict: 'reject', reason: 'bad signature' });
    });

    it('skips tokens of other issuers, other algorithms, without kid, or not JWTs', async () => {
      const filter = await prefilter();
      assert.deepEqual(
        await filter.check(await forge.mintAccessToken(1, { foreignIssuer: true })),
        {
          verdict: 'skip',
          reason: 'no matching key',
        },
      );
      const es = await generateKeyPair('ES256');
      const otherAlg = await new SignJWT({ tt: 1 })
        .setProtectedHeader({ alg: 'ES256', kid: 'k' })
        .sign(es.privateKey);
      assert.equal((await filter.check(otherAlg)).verdict, 'skip');
      const rs = await generateKeyPair('RS256');
      const noKid = await new SignJWT({ tt: 1 })
        .setProtectedHeader({ alg: 'RS256' })
        .sign(rs.privateKey);
      assert.equal((await filter.check(noKid)).verdict, 'skip');
      assert.equal((await filter.check('a.b.c')).verdict, 'skip');
      assert.equal((await filter.check(forge.token('alice-all'))).verdict, 'skip');
    });

    it('works with ES256 keys', async () => {
      forge.set({ oauth2: 'ES256' });
      const filter = await prefilter();
      assert.equal(filter.algorithm(), 'ES256');
      assert.equal((await filter.check(await forge.mintAccessToken(2))).verdict, 'pass');
      assert.equal(
        (await filter.check(await forge.mintAccessToken(2, { foreignKey: true }))).verdict,
        'reject',
      );
    });

    it('skips, never rejects, when the key set cannot be fetched', async () => {
      const filter = await prefilter();
      const jwt = await forge.mintAccessToken(1, { tt: 1 });
      forge.fault('oauth-keys', '503');
      assert.equal((await filter.check(jwt)).verdict, 'skip');
    });
  });
});

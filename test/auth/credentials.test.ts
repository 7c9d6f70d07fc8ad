import assert from 'node:assert/strict';
import {
  ANONYMOUS,
  buildProbeCredentials,
  createCredentialKeyer,
  describeCredentials,
  extractCredentials,
  isAnonymous,
  isJwtShaped,
  tokenSecrets,
} from '../../src/auth/credentials.js';
import type { AccessRequest } from '../../src/auth/decision.js';

const request = (
  headers: AccessRequest['headers'],
  query = '',
  allowApiKeyHeader = false,
): Pick<AccessRequest, 'headers' | 'query' | 'allowApiKeyHeader'> => ({
  headers,
  query: new URLSearchParams(query),
  allowApiKeyHeader,
});

const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJnbnQiOjF9.c2ln';

describe('auth/credentials', () => {
  describe('extractCredentials', () => {
    it('reads Authorization, both OTP headers and both query tokens', () => {
      const m = extractCredentials(
        request(
          { authorization: 'token abc', 'x-forgejo-otp': '1', 'x-gitea-otp': '2', cookie: 'c=1' },
          'token=t&access_token=a&page=3',
        ),
      );
      assert.deepEqual(m, {
        authorization: 'token abc',
        forgejoOtp: '1',
        giteaOtp: '2',
        queryToken: 't',
        queryAccessToken: 'a',
      });
    });

    it('maps X-Api-Key to a token only where allowed and without Authorization', () => {
      assert.equal(
        extractCredentials(request({ 'x-api-key': 'k' }, '', true)).authorization,
        'token k',
      );
      assert.equal(
        extractCredentials(request({ 'x-api-key': 'k' }, '', false)).authorization,
        undefined,
      );
      const both = request({ 'x-api-key': 'k', authorization: 'Bearer b' }, '', true);
      assert.equal(extractCredentials(both).authorization, 'Bearer b');
    });

    it('treats empty values as absent, like Go', () => {
      const m = extractCredentials(
        request({ authorization: '', 'x-forgejo-otp': '' }, 'token=&access_token='),
      );
      assert.deepEqual(m, ANONYMOUS);
    });
  });

  describe('isAnonymous', () => {
    it('is anonymous without Authorization and query token, OTP headers notwithstanding', () => {
      assert.equal(isAnonymous(extractCredentials(request({ 'x-forgejo-otp': '123456' }))), true);
      assert.equal(isAnonymous(extractCredentials(request({ authorization: 'Digest x' }))), false);
      assert.equal(isAnonymous(extractCredentials(request({}, 'access_token=x'))), false);
    });
  });

  describe('tokenSecrets and isJwtShaped', () => {
    it('finds the secret Forgejo would try as a token in each position', () => {
      const secrets = (headers: AccessRequest['headers'], query = '') =>
        tokenSecrets(extractCredentials(request(headers, query)));
      assert.deepEqual(secrets({ authorization: 'token A' }), ['A']);
      assert.deepEqual(secrets({ authorization: 'BEARER B' }), ['B']);
      assert.deepEqual(secrets({ authorization: basic('user', 'P') }), ['P']);
      assert.deepEqual(secrets({ authorization: basic('U', '') }), ['U']);
      assert.deepEqual(secrets({ authorization: basic('U', 'x-oauth-basic') }), ['U']);
      assert.deepEqual(secrets({ authorization: 'Digest x' }), []);
      assert.deepEqual(secrets({ authorization: 'token a b' }), []);
      assert.deepEqual(secrets({ authorization: 'token H' }, 'token=Q&access_token=R'), [
        'Q',
        'R',
        'H',
      ]);
    });

    it('recognises three base64url parts', () => {
      assert.equal(isJwtShaped(JWT), true);
      assert.equal(isJwtShaped('a'.repeat(40)), false);
      assert.equal(isJwtShaped('a.b'), false);
      assert.equal(isJwtShaped('a.b.c.d'), false);
      assert.equal(isJwtShaped('a+b.c.d'), false);
    });
  });

  describe('buildProbeCredentials', () => {
    it('carries only the headers of forge.md §5.2 and the query tokens', () => {
      const m = extractCredentials(
        request(
          { authorization: 'token abc', 'x-gitea-otp': '2', cookie: 'c' },
          'page=2&token=a b',
        ),
      );
      assert.deepEqual(buildProbeCredentials(m, '198.51.100.1'), {
        headers: {
          Accept: 'text/plain',
          Authorization: 'token abc',
          'X-Gitea-OTP': '2',
          'X-Forwarded-For': '198.51.100.1',
        },
        query: 'token=a+b',
      });
    });

    it('sends nothing but Accept for anonymous callers', () => {
      assert.deepEqual(buildProbeCredentials(ANONYMOUS, undefined), {
        headers: { Accept: 'text/plain' },
        query: '',
      });
    });
  });

  describe('createCredentialKeyer', () => {
    const keyOf = createCredentialKeyer();
    const key = (headers: AccessRequest['headers'], query = '') =>
      keyOf(extractCredentials(request(headers, query)));

    it('gives byte-identical material the same key, and anything else another', () => {
      const token = 'a'.repeat(40);
      assert.equal(
        key({ authorization: `token ${token}` }),
        key({ authorization: `token ${token}` }),
      );
      const distinct = new Set([
        key({ authorization: `token ${token}` }),
        key({ authorization: `Token ${token}` }),
        key({ authorization: basic('alice', token) }),
        key({ authorization: basic('bob', token) }),
        key({ authorization: basic('otto', 'otto-pw'), 'x-forgejo-otp': '123456' }),
        key({ authorization: basic('otto', 'otto-pw'), 'x-gitea-otp': '123456' }),
        key({ authorization: basic('otto', 'otto-pw') }),
        key({}, `token=${token}`),
        key({}, `access_token=${token}`),
      ]);
      assert.equal(distinct.size, 9);
    });

    it('does not confuse values that would run together', () => {
      assert.notEqual(key({ 'x-forgejo-otp': 'ab' }), key({ 'x-gitea-otp': 'ab' }));
      assert.notEqual(
        key({ authorization: 'a', 'x-forgejo-otp': 'b' }),
        key({ authorization: 'a","b' }),
      );
    });

    it('uses a per-keyer secret and never contains the credential', () => {
      const token = 'b'.repeat(40);
      const m = extractCredentials(request({ authorization: `token ${token}` }));
      const first = createCredentialKeyer()(m);
      assert.notEqual(first, createCredentialKeyer()(m));
      assert.match(first, /^[0-9a-f]{64}$/);
    });
  });

  describe('describeCredentials', () => {
    it('names schemes, never secrets', () => {
      const describe_ = (headers: AccessRequest['headers'], query = '') =>
        describeCredentials(extractCredentials(request(headers, query)));
      assert.equal(describe_({}), 'anonymous');
      assert.equal(describe_({ authorization: `Bearer ${JWT}` }), 'bearer');
      assert.equal(
        describe_({ authorization: basic('otto', 'otto-pw'), 'x-forgejo-otp': '1' }),
        'basic+otp',
      );
      assert.equal(describe_({ authorization: 'Digest x' }, 'token=x'), 'other+query');
    });
  });
});

import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';

/** What the pre-filter says about one secret (forge.md §6). Nothing here ever grants access. */
export type PrefilterVerdict =
  /** Verified as ours and acceptable: probe as usual (a revoked grant fails there). */
  | { readonly verdict: 'pass' }
  /** Certainly refused by Forgejo: bare 401 without a probe. */
  | { readonly verdict: 'reject'; readonly reason: PrefilterRejection }
  /** Not ours, not checkable, or the filter is off: probe as usual. */
  | { readonly verdict: 'skip'; readonly reason: string };

export type PrefilterRejection =
  'bad signature' | 'expired' | 'issued in the future' | 'not an access token';

/** `pending` until F9 has answered 200 or 404. */
export type PrefilterState = 'pending' | 'on' | 'off';

export interface OAuthPrefilter {
  state(): PrefilterState;
  /** The algorithm from discovery, once on. */
  algorithm(): string | undefined;
  /** Applies the F9 discovery answer; anything but 200/404 leaves it pending (retry later). */
  configure(answer: { readonly status: number; readonly body: string }): PrefilterState;
  check(secret: string): Promise<PrefilterVerdict>;
}

export interface OAuthPrefilterOptions {
  readonly forgeUrl: URL;
  readonly setting: 'auto' | 'off';
  /** Epoch ms; the same clock as the caches. */
  readonly now: () => number;
}

// forge.md §6: tolerances lean towards the forge.
const CLOCK_TOLERANCE_S = 60;

const skip = (reason: string): PrefilterVerdict => ({ verdict: 'skip', reason });
const reject = (reason: PrefilterRejection): PrefilterVerdict => ({ verdict: 'reject', reason });

function discoveredAlgorithm(body: string): string | undefined {
  try {
    const doc: unknown = JSON.parse(body);
    if (typeof doc !== 'object' || doc === null) return undefined;
    const algs = (doc as Record<string, unknown>)['id_token_signing_alg_values_supported'];
    const first: unknown = Array.isArray(algs) ? algs[0] : undefined;
    return typeof first === 'string' && first !== '' ? first : undefined;
  } catch {
    return undefined;
  }
}

/** The jose check of Forgejo OAuth2 access tokens; may only reject, never grant (P3). */
export function createOAuthPrefilter(opts: OAuthPrefilterOptions): OAuthPrefilter {
  let state: PrefilterState = opts.setting === 'off' ? 'off' : 'pending';
  let alg: string | undefined;
  let keys: JWTVerifyGetKey | undefined;

  return {
    state: () => state,
    algorithm: () => alg,

    configure(answer) {
      if (opts.setting === 'off') return state;
      if (answer.status === 404) {
        state = 'off'; // OAuth2 disabled on the forge
      } else if (answer.status === 200) {
        const found = discoveredAlgorithm(answer.body);
        // HS*: the JWK is `kty: oct` without key material, so nothing can be checked here.
        if (found === undefined || /^HS/i.test(found) || found.toLowerCase() === 'none') {
          state = 'off';
        } else {
          alg = found;
          keys ??= createRemoteJWKSet(new URL('login/oauth/keys', opts.forgeUrl), {
            timeoutDuration: 5000,
            cooldownDuration: 30000,
            cacheMaxAge: 600000,
          });
          state = 'on';
        }
      }
      return state;
    },

    async check(secret) {
      if (state !== 'on' || keys === undefined || alg === undefined) return skip('filter off');
      let header;
      try {
        header = decodeProtectedHeader(secret);
      } catch {
        return skip('not a JWT');
      }
      if (typeof header.kid !== 'string' || typeof header.alg !== 'string') return skip('no kid');
      // Another algorithm than the forge's: another issuer (integrations), not for us to judge.
      if (header.alg !== alg) return skip('other algorithm');
      let payload;
      try {
        ({ payload } = await jwtVerify(secret, keys, {
          algorithms: [alg],
          clockTolerance: CLOCK_TOLERANCE_S,
          currentDate: new Date(opts.now()),
        }));
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey) return skip('no matching key');
        // jose checks the signature before any claim, so these are the forge's own tokens.
        if (err instanceof errors.JWSSignatureVerificationFailed) return reject('bad signature');
        if (err instanceof errors.JWTExpired) return reject('expired');
        // Key set unreachable, odd claims: the probe decides.
        return skip(err instanceof errors.JOSEError ? err.code : 'verify failed');
      }
      const nowS = Math.floor(opts.now() / 1000);
      if (typeof payload.iat === 'number' && payload.iat > nowS + CLOCK_TOLERANCE_S) {
        return reject('issued in the future');
      }
      // `tt` 1 is a refresh token; an absent `tt` reads as 0 in Forgejo.
      if ('tt' in payload && payload['tt'] !== 0) return reject('not an access token');
      return { verdict: 'pass' };
    },
  };
}

import { createHmac, randomBytes } from 'node:crypto';
import type { AccessRequest } from './decision.js';

/**
 * Everything in a request that can carry a credential (forge.md §2, §7). Holds raw secrets:
 * never log it, never store it; only `credentialKeyer` output may be kept.
 */
export interface CredentialMaterial {
  /** Verbatim, or `token <X-Api-Key>` on routes that honour that header. */
  readonly authorization: string | undefined;
  readonly forgejoOtp: string | undefined;
  readonly giteaOtp: string | undefined;
  readonly queryToken: string | undefined;
  readonly queryAccessToken: string | undefined;
}

/** What a decision probe (F6/F7/F8) sends on the caller's behalf (forge.md §5.2). */
export interface ProbeCredentials {
  readonly headers: Readonly<Record<string, string>>;
  /** `token`/`access_token` only, already encoded; empty when there are none. */
  readonly query: string;
}

/** No credential at all: what an anonymous probe sends. */
export const ANONYMOUS: CredentialMaterial = {
  authorization: undefined,
  forgejoOtp: undefined,
  giteaOtp: undefined,
  queryToken: undefined,
  queryAccessToken: undefined,
};

// Go's Header.Get and FormValue treat an empty value as absent; so do we.
const present = (value: string | null | undefined): string | undefined =>
  value === null || value === undefined || value === '' ? undefined : value;

function header(headers: AccessRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return present(Array.isArray(value) ? value[0] : value);
}

/** Reads the credential material of a request; no I/O, no validation. */
export function extractCredentials(
  req: Pick<AccessRequest, 'headers' | 'query' | 'allowApiKeyHeader'>,
): CredentialMaterial {
  let authorization = header(req.headers, 'authorization');
  if (authorization === undefined && req.allowApiKeyHeader) {
    const apiKey = header(req.headers, 'x-api-key');
    if (apiKey !== undefined) authorization = `token ${apiKey}`;
  }
  return {
    authorization,
    forgejoOtp: header(req.headers, 'x-forgejo-otp'),
    giteaOtp: header(req.headers, 'x-gitea-otp'),
    queryToken: present(req.query.get('token')),
    queryAccessToken: present(req.query.get('access_token')),
  };
}

/** forge.md §2: no `Authorization` and no query token. OTP headers alone do not count. */
export function isAnonymous(m: CredentialMaterial): boolean {
  return (
    m.authorization === undefined && m.queryToken === undefined && m.queryAccessToken === undefined
  );
}

interface ParsedAuthorization {
  readonly scheme: string;
  /** The secret Forgejo would try as a token, if any. */
  readonly tokenSecret: string | undefined;
}

function parseAuthorization(value: string): ParsedAuthorization {
  const fields = value.trim().split(/\s+/);
  const scheme = (fields[0] ?? '').toLowerCase();
  if (fields.length !== 2) return { scheme, tokenSecret: undefined };
  const secret = fields[1] ?? '';
  if (scheme === 'token' || scheme === 'bearer') return { scheme, tokenSecret: secret };
  if (scheme !== 'basic') return { scheme, tokenSecret: undefined };
  const decoded = Buffer.from(secret, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { scheme, tokenSecret: undefined };
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  // Forgejo's Basic method: the username is the token when the password is empty or
  // `x-oauth-basic`, otherwise the password is.
  const secretPart = password === '' || password === 'x-oauth-basic' ? user : password;
  return { scheme, tokenSecret: secretPart === '' ? undefined : secretPart };
}

/**
 * Every secret Forgejo may try as a token, in its order: query `token`, query `access_token`,
 * the `token`/`Bearer` secret, the Basic token secret (username or password).
 */
export function tokenSecrets(m: CredentialMaterial): string[] {
  const out: string[] = [];
  if (m.queryToken !== undefined) out.push(m.queryToken);
  if (m.queryAccessToken !== undefined) out.push(m.queryAccessToken);
  if (m.authorization !== undefined) {
    const secret = parseAuthorization(m.authorization).tokenSecret;
    if (secret !== undefined) out.push(secret);
  }
  return out;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Three base64url parts: a candidate for the OAuth2 pre-filter (forge.md §6). */
export const isJwtShaped = (secret: string): boolean => JWT_SHAPE.test(secret);

/** Credential kinds, for logs: the scheme only, never the secret. */
export function describeCredentials(m: CredentialMaterial): string {
  if (isAnonymous(m)) return 'anonymous';
  const kinds: string[] = [];
  if (m.authorization !== undefined) {
    const scheme = parseAuthorization(m.authorization).scheme;
    kinds.push(['basic', 'token', 'bearer'].includes(scheme) ? scheme : 'other');
  }
  if (m.queryToken !== undefined || m.queryAccessToken !== undefined) kinds.push('query');
  if (m.forgejoOtp !== undefined || m.giteaOtp !== undefined) kinds.push('otp');
  return kinds.join('+');
}

/** Headers and query of a probe: only the bullets of forge.md §5.2, nothing else. */
export function buildProbeCredentials(
  m: CredentialMaterial,
  forwardedFor: string | undefined,
): ProbeCredentials {
  const headers: Record<string, string> = { Accept: 'text/plain' };
  if (m.authorization !== undefined) headers['Authorization'] = m.authorization;
  if (m.forgejoOtp !== undefined) headers['X-Forgejo-OTP'] = m.forgejoOtp;
  if (m.giteaOtp !== undefined) headers['X-Gitea-OTP'] = m.giteaOtp;
  if (forwardedFor !== undefined && forwardedFor !== '') headers['X-Forwarded-For'] = forwardedFor;
  const query = new URLSearchParams();
  if (m.queryToken !== undefined) query.set('token', m.queryToken);
  if (m.queryAccessToken !== undefined) query.set('access_token', m.queryAccessToken);
  return { headers, query: query.toString() };
}

/**
 * A keyed hash of the material (forge.md §7): byte-identical material gives the same key, any
 * difference another. The key is random per keyer, so hashes mean nothing outside the process.
 */
export function createCredentialKeyer(
  secret: Buffer = randomBytes(32),
): (m: CredentialMaterial) => string {
  return (m) =>
    createHmac('sha256', secret)
      // JSON of a fixed-order array: unambiguous whatever the values contain.
      .update(
        JSON.stringify([
          m.authorization ?? null,
          m.forgejoOtp ?? null,
          m.giteaOtp ?? null,
          m.queryToken ?? null,
          m.queryAccessToken ?? null,
        ]),
      )
      .digest('hex');
}

// The forge test double (forge.md §10): a real HTTP server with its own small evaluator of
// forge.md §2–§4. It must never import Stowage's auth code, or a shared bug would pass.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SignJWT,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

export interface FakeForgeKnobs {
  /** `[service] REQUIRE_SIGNIN_VIEW` (R0). */
  readonly requireSigninView: boolean;
  /** `[security] DISABLE_QUERY_AUTH_TOKEN`: query tokens are ignored. */
  readonly disableQueryAuthToken: boolean;
  /** `[service] ENABLE_BASIC_AUTHENTICATION`: password sign-in on the API. */
  readonly enableBasicAuth: boolean;
  /** `[oauth2] JWT_SIGNING_ALGORITHM`, or `off` (OAuth2 disabled). */
  readonly oauth2: 'RS256' | 'ES256' | 'HS256' | 'off';
  /** `[security] GLOBAL_TWO_FACTOR_REQUIREMENT`: `all` puts users without TOTP under R1. */
  readonly globalTwoFactor: 'none' | 'all';
  /** `[service] DISABLE_USERS_PAGE`: users/search answers 404. */
  readonly disableUsersPage: boolean;
  /** `[packages] ENABLED`: false makes every `/api/packages/...` a 404. */
  readonly packagesEnabled: boolean;
  readonly latencyMs: number;
  readonly version: string;
}

export const DEFAULT_KNOBS: FakeForgeKnobs = Object.freeze({
  requireSigninView: false,
  disableQueryAuthToken: false,
  enableBasicAuth: true,
  oauth2: 'RS256',
  globalTwoFactor: 'none',
  disableUsersPage: false,
  packagesEnabled: true,
  latencyMs: 0,
  version: '11.0.0+gitea-1.22.0',
});

/** Route names for `fault()` and `calls`; `any` faults every route. */
export type FakeForgeRoute =
  | 'version'
  | 'user'
  | 'users-search'
  | 'users'
  | 'orgs'
  | 'generic-get'
  | 'generic-delete'
  | 'conan-authenticate'
  | 'conan-check'
  | 'openid-configuration'
  | 'oauth-keys'
  | 'unknown';

/** `oversize` (an extension) answers 404 with a body over 64 KiB. */
export type FakeForgeFault = '500' | '503' | 'hang' | 'reset' | 'oversize' | `status:${number}`;

export type CredentialKind = 'anonymous' | 'basic' | 'token' | 'bearer' | 'other' | 'query';

export interface ForgeCall {
  readonly method: string;
  readonly route: FakeForgeRoute;
  /** Raw path, without query. */
  readonly path: string;
  /** Query with `token`/`access_token` values replaced by `REDACTED`. */
  readonly query: string;
  readonly credential: CredentialKind;
  /** The service token was presented (header, Basic or query). */
  readonly service: boolean;
  /** Lower-cased request header names; values are never kept. */
  readonly headerNames: readonly string[];
  /** 0 while unanswered, or when the fault was `hang`/`reset`. */
  status: number;
}

export interface MintOptions {
  /** Seconds from now to `exp`; negative for an expired token. Default 3600. */
  readonly expSeconds?: number;
  /** Seconds from now to `iat`. Default 0. */
  readonly iat?: number;
  /** Token type: 0 access, 1 refresh; `null` leaves the claim out. Default 0. */
  readonly tt?: number | null;
  /** Sign with a key the forge does not have, under the forge's own `kid`. */
  readonly foreignKey?: boolean;
  /** Sign with a key the forge does not have, under another `kid` (another issuer). */
  readonly foreignIssuer?: boolean;
}

export interface FakeForge {
  /** Base URL without a trailing slash; FORGE_URL is `${url}/`. */
  readonly url: string;
  readonly calls: readonly ForgeCall[];
  readonly knobs: FakeForgeKnobs;
  close(): Promise<void>;
  resetCalls(): void;
  set(knobs: Partial<FakeForgeKnobs>): void;
  /** Makes every request to `route` fail in this way; `undefined` clears it. */
  fault(route: FakeForgeRoute | 'any', kind: FakeForgeFault | undefined): void;
  /** Token value: lowercase hex SHA-1 of `stowage-test:<name>` (known or not). */
  token(name: string): string;
  mintAccessToken(grantId: number, options?: MintOptions): Promise<string>;
  revokeGrant(id: number): void;
  deleteToken(name: string): void;
  /** Renames a user or org; the old name then redirects. */
  rename(oldName: string, newName: string): void;
  /** Knobs, faults, fixtures and calls back to their start. */
  reset(): void;
  /** Every fixture secret (tokens, passwords, OTP) and every minted JWT, for redaction tests. */
  secrets(): string[];
}

export const ACCEPTED_OTP = '123456';
export const password = (login: string) => `${login}-pw`;
export const tokenValue = (name: string) =>
  createHash('sha1').update(`stowage-test:${name}`).digest('hex');

// Forgejo's access modes.
const NONE = 0;
const READ = 1;
const WRITE = 2;
const ADMIN = 3;
const OWNER = 4;

type Visibility = 'public' | 'limited' | 'private';

interface User {
  readonly kind: 'user';
  readonly id: number;
  name: string;
  readonly visibility: Visibility;
  readonly admin: boolean;
  readonly restricted: boolean;
  readonly active: boolean;
  readonly prohibitLogin: boolean;
  readonly totp: boolean;
  readonly webauthn: boolean;
  readonly canSignIn: boolean;
}

interface Team {
  readonly name: string;
  /** Owners/admin teams, or unit modes (code, issues, packages). */
  readonly access: 'owner' | 'admin' | { readonly [unit: string]: number };
  readonly members: readonly string[];
}

interface Org {
  readonly kind: 'org';
  readonly id: number;
  name: string;
  readonly visibility: Visibility;
  readonly teams: readonly Team[];
}

type Owner = User | Org;

interface Token {
  readonly userId: number;
  readonly scope: string;
}

interface State {
  readonly users: User[];
  readonly orgs: Org[];
  /** Lower-cased old name → owner id. */
  readonly redirects: Map<string, number>;
  /** Token value → token. */
  readonly tokens: Map<string, Token>;
  /** Actions task token value → running. */
  readonly actionsTokens: Map<string, boolean>;
  readonly grants: Map<number, Token>;
}

function user(
  id: number,
  name: string,
  flags: Partial<Omit<User, 'kind' | 'id' | 'name'>> = {},
): User {
  return {
    kind: 'user',
    id,
    name,
    visibility: 'public',
    admin: false,
    restricted: false,
    active: true,
    prohibitLogin: false,
    totp: false,
    webauthn: false,
    canSignIn: true,
    ...flags,
  };
}

/** forge.md §10.2 */
function fixtures(): State {
  const users = [
    user(1, 'root', { admin: true }),
    user(2, 'alice'),
    user(3, 'bob'),
    user(4, 'carol'),
    user(13, 'quinn'),
    user(5, 'dave'),
    user(6, 'rita', { restricted: true }),
    user(7, 'lena', { visibility: 'limited' }),
    user(8, 'pia', { visibility: 'private' }),
    user(9, 'otto', { totp: true }),
    user(10, 'wendy', { webauthn: true }),
    user(11, 'ina', { active: false }),
    user(12, 'pete', { prohibitLogin: true }),
    user(-2, 'forgejo-actions', { canSignIn: false }),
  ];
  const orgs: Org[] = [
    {
      kind: 'org',
      id: 100,
      name: 'acme',
      visibility: 'public',
      teams: [
        { name: 'Owners', access: 'owner', members: ['alice'] },
        { name: 'readers', access: { code: READ, packages: READ }, members: ['bob'] },
        { name: 'pkg-writers', access: { code: READ, packages: WRITE }, members: ['carol'] },
        { name: 'ops', access: { code: WRITE, issues: WRITE, packages: NONE }, members: ['quinn'] },
      ],
    },
    {
      kind: 'org',
      id: 101,
      name: 'limco',
      visibility: 'limited',
      teams: [{ name: 'Owners', access: 'owner', members: ['alice'] }],
    },
    {
      kind: 'org',
      id: 102,
      name: 'hush',
      visibility: 'private',
      teams: [
        { name: 'Owners', access: 'owner', members: ['alice'] },
        { name: 'devs', access: { code: READ, packages: READ }, members: ['bob'] },
      ],
    },
  ];
  const tokens = new Map<string, Token>();
  const pat = (name: string, userId: number, scope: string) =>
    tokens.set(tokenValue(name), { userId, scope });
  pat('service', 1, 'read:user,read:organization');
  pat('root-pkg', 1, 'read:package');
  pat('root-repo', 1, 'read:repository');
  pat('alice-all', 2, 'all');
  pat('alice-write', 2, 'write:package');
  pat('alice-read', 2, 'read:package');
  pat('alice-repo', 2, 'read:repository');
  pat('alice-public', 2, 'public-only,write:package');
  pat('bob-read', 3, 'read:package');
  pat('bob-write', 3, 'write:package');
  for (const [name, id] of [
    ['carol', 4],
    ['dave', 5],
    ['quinn', 13],
    ['ina', 11],
    ['pete', 12],
  ] as const) {
    pat(`${name}-write`, id, 'write:package');
  }
  pat('rita-read', 6, 'read:package');
  return {
    users,
    orgs,
    redirects: new Map([
      ['acme-old', 100],
      ['alice-old', 2],
    ]),
    tokens,
    actionsTokens: new Map([
      [tokenValue('actions-running'), true],
      [tokenValue('actions-finished'), false],
    ]),
    grants: new Map([
      [1, { userId: 2, scope: '' }],
      [2, { userId: 3, scope: 'read:package' }],
    ]),
  };
}

const FIXTURE_TOKEN_NAMES = [
  'service',
  'root-pkg',
  'root-repo',
  'alice-all',
  'alice-write',
  'alice-read',
  'alice-repo',
  'alice-public',
  'bob-read',
  'bob-write',
  'carol-write',
  'dave-write',
  'quinn-write',
  'ina-write',
  'pete-write',
  'rita-read',
  'revoked',
  'actions-running',
  'actions-finished',
];

/** Who is calling, as the double's evaluator sees it. */
type Caller =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'bad' }
  | {
      readonly kind: 'user';
      readonly user: User;
      /** undefined: the credential carries no scope (password, Actions token). */
      readonly scopes: readonly string[] | undefined;
      /** The scope as the credential states it, for the F8 JWT. */
      readonly scopeText: string;
      /** Epoch seconds after which the credential is void, if it expires. */
      readonly expiresAtS: number | undefined;
    };

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const nowS = () => Math.floor(Date.now() / 1000);

function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function scopesOf(text: string): string[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return parts.length === 0 ? ['all'] : parts;
}

/** `write:x` implies `read:x`; `all` implies everything; `public-only` is a modifier. */
function hasScope(scopes: readonly string[], wanted: string): boolean {
  if (scopes.includes('all') || scopes.includes(wanted)) return true;
  const [level, category] = wanted.split(':');
  return level === 'read' && scopes.includes(`write:${category}`);
}

interface Keys {
  readonly rs: { readonly privateKey: CryptoKey; readonly jwk: JWK };
  readonly es: { readonly privateKey: CryptoKey; readonly jwk: JWK };
  readonly rsPublic: CryptoKey;
  readonly esPublic: CryptoKey;
  readonly foreignRs: CryptoKey;
  readonly foreignEs: CryptoKey;
  readonly hs: Uint8Array;
  /** Signs package JWTs (F8, conan). */
  readonly packages: Uint8Array;
}

async function signingKey(alg: 'RS256' | 'ES256') {
  const pair = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { pair, jwk: { ...jwk, alg, kid, use: 'sig' } };
}

async function createKeys(): Promise<Keys> {
  const [rs, es, foreignRs, foreignEs] = await Promise.all([
    signingKey('RS256'),
    signingKey('ES256'),
    generateKeyPair('RS256'),
    generateKeyPair('ES256'),
  ]);
  return {
    rs: { privateKey: rs.pair.privateKey, jwk: rs.jwk },
    es: { privateKey: es.pair.privateKey, jwk: es.jwk },
    rsPublic: rs.pair.publicKey,
    esPublic: es.pair.publicKey,
    foreignRs: foreignRs.privateKey,
    foreignEs: foreignEs.privateKey,
    hs: randomBytes(32),
    packages: randomBytes(32),
  };
}

function routeOf(method: string, segments: readonly string[]): FakeForgeRoute {
  const path = segments.join('/');
  if (method === 'GET' && path === 'api/v1/version') return 'version';
  if (method === 'GET' && path === 'api/v1/user') return 'user';
  if (method === 'GET' && path === 'api/v1/users/search') return 'users-search';
  if (method === 'GET' && segments.length === 4 && path.startsWith('api/v1/users/')) return 'users';
  if (method === 'GET' && segments.length === 4 && path.startsWith('api/v1/orgs/')) return 'orgs';
  if (segments[0] === 'api' && segments[1] === 'packages' && segments.length >= 3) {
    const rest = segments.slice(3).join('/');
    if (segments[3] === 'generic' && segments.length === 7 && method === 'GET')
      return 'generic-get';
    if (segments[3] === 'generic' && segments.length === 6 && method === 'DELETE')
      return 'generic-delete';
    if (method === 'GET' && rest === 'conan/v1/users/authenticate') return 'conan-authenticate';
    if (method === 'GET' && rest === 'conan/v1/users/check_credentials') return 'conan-check';
  }
  if (method === 'GET' && path === '.well-known/openid-configuration')
    return 'openid-configuration';
  if (method === 'GET' && path === 'login/oauth/keys') return 'oauth-keys';
  return 'unknown';
}

/** Starts the double on 127.0.0.1 with a random port; keys are generated per instance. */
export async function startFakeForge(
  options: { readonly knobs?: Partial<FakeForgeKnobs> } = {},
): Promise<FakeForge> {
  const keys = await createKeys();
  let knobs: FakeForgeKnobs = { ...DEFAULT_KNOBS, ...options.knobs };
  let state = fixtures();
  let faults = new Map<FakeForgeRoute | 'any', FakeForgeFault>();
  let calls: ForgeCall[] = [];
  const minted: string[] = [];
  let baseUrl = '';

  const userById = (id: number) => state.users.find((u) => u.id === id);
  const owners = (): Owner[] => [...state.users.filter((u) => u.id > 0), ...state.orgs];
  const ownerByName = (name: string) =>
    owners().find((o) => o.name.toLowerCase() === name.toLowerCase());
  const ownerById = (id: number) => owners().find((o) => o.id === id);
  const redirectOf = (name: string) => {
    const id = state.redirects.get(name.toLowerCase());
    return id === undefined ? undefined : ownerById(id);
  };

  // --- authentication (forge.md §10.3) ---------------------------------------------------

  const userCaller = (
    u: User | undefined,
    scopeText: string | undefined,
    expiresAtS?: number,
  ): Caller | undefined =>
    u === undefined
      ? undefined
      : {
          kind: 'user',
          user: u,
          scopes: scopeText === undefined ? undefined : scopesOf(scopeText),
          scopeText: scopeText ?? '',
          expiresAtS,
        };

  async function oauthCaller(secret: string): Promise<Caller | undefined> {
    if (knobs.oauth2 === 'off' || !JWT_SHAPE.test(secret)) return undefined;
    const alg = knobs.oauth2;
    const key = alg === 'HS256' ? keys.hs : alg === 'ES256' ? keys.esPublic : keys.rsPublic;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(secret, key, { algorithms: [alg] }));
    } catch {
      return undefined; // bad signature, wrong algorithm, expired
    }
    if (typeof payload.iat === 'number' && payload.iat > nowS()) return undefined;
    if ((payload['tt'] ?? 0) !== 0) return undefined;
    const grantId = payload['gnt'];
    const grant = typeof grantId === 'number' ? state.grants.get(grantId) : undefined;
    if (grant === undefined) return undefined;
    // An OAuth2 grant without scopes has them all.
    return userCaller(
      userById(grant.userId),
      grant.scope === '' ? 'all' : grant.scope,
      payload.exp,
    );
  }

  async function packageJwtCaller(secret: string): Promise<Caller | undefined> {
    if (!JWT_SHAPE.test(secret)) return undefined;
    try {
      const { payload } = await jwtVerify(secret, keys.packages, { algorithms: ['HS256'] });
      const id = payload['UserID'];
      const scope = payload['Scope'];
      if (typeof id !== 'number') return undefined;
      return userCaller(
        userById(id),
        typeof scope === 'string' && scope !== '' ? scope : undefined,
        payload.exp,
      );
    } catch {
      return undefined;
    }
  }

  async function secretCaller(secret: string, asHeaderToken: boolean): Promise<Caller | undefined> {
    const oauth = await oauthCaller(secret);
    if (oauth !== undefined) return oauth;
    const pat = state.tokens.get(secret);
    if (pat !== undefined) return userCaller(userById(pat.userId), pat.scope);
    if (state.actionsTokens.get(secret) === true) return userCaller(userById(-2), undefined);
    return asHeaderToken ? packageJwtCaller(secret) : undefined;
  }

  function passwordCaller(login: string, pw: string, req: IncomingMessage): Caller | undefined {
    const wanted = login.toLowerCase();
    const u = state.users.find(
      (x) =>
        x.canSignIn &&
        (x.name.toLowerCase() === wanted || `${x.name}@example.test`.toLowerCase() === wanted),
    );
    if (u === undefined || pw !== password(u.name)) return undefined;
    if (u.prohibitLogin || u.webauthn) return undefined;
    if (u.totp) {
      // Forgejo's header wins over Gitea's.
      const otp = firstHeader(req, 'x-forgejo-otp') ?? firstHeader(req, 'x-gitea-otp');
      if (otp !== ACCEPTED_OTP) return undefined;
    }
    return userCaller(u, undefined); // inactive users do sign in; R1 stops them later
  }

  async function authenticate(req: IncomingMessage, query: URLSearchParams): Promise<Caller> {
    let present = false;
    if (!knobs.disableQueryAuthToken) {
      const q = query.get('token') || query.get('access_token');
      if (q) {
        present = true;
        const found = await secretCaller(q, false);
        if (found !== undefined) return found;
      }
    }
    const authorization = firstHeader(req, 'authorization');
    if (authorization !== undefined) {
      present = true;
      const fields = authorization.trim().split(/\s+/);
      const scheme = fields[0]?.toLowerCase();
      const value = fields[1];
      if (
        fields.length === 2 &&
        value !== undefined &&
        (scheme === 'token' || scheme === 'bearer')
      ) {
        const found = await secretCaller(value, true);
        if (found !== undefined) return found;
      } else if (fields.length === 2 && value !== undefined && scheme === 'basic') {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon >= 0) {
          const login = decoded.slice(0, colon);
          const pw = decoded.slice(colon + 1);
          const secret = pw === '' || pw === 'x-oauth-basic' ? login : pw;
          const found = secret === '' ? undefined : await secretCaller(secret, false);
          if (found !== undefined) return found;
          if (knobs.enableBasicAuth) {
            const signedIn = passwordCaller(login, pw, req);
            if (signedIn !== undefined) return signedIn;
          }
        }
      }
    }
    return present ? { kind: 'bad' } : { kind: 'anonymous' };
  }

  // --- permissions (forge.md §3) ----------------------------------------------------------

  const isMember = (org: Org, u: User) =>
    org.teams.some((t) => t.members.some((m) => m.toLowerCase() === u.name.toLowerCase()));

  /** O3, also the visibility of `orgs/{name}`. */
  function orgVisible(org: Org, u: User | undefined): boolean {
    if (u === undefined) return org.visibility === 'public';
    if (u.admin || isMember(org, u)) return true;
    return !(org.visibility === 'private' || u.restricted);
  }

  function teamMode(team: Team): number {
    if (team.access === 'owner') return OWNER;
    if (team.access === 'admin') return ADMIN;
    // A unit team's authorize is its smallest non-None unit mode.
    const modes = Object.values(team.access).filter((m) => m > NONE);
    return modes.length === 0 ? NONE : Math.min(...modes);
  }

  function modeFor(owner: Owner, caller: Caller): number {
    const u = caller.kind === 'user' ? caller.user : undefined;
    if (u === undefined && knobs.requireSigninView) return NONE; // R0
    if (
      u !== undefined &&
      (!u.active || u.prohibitLogin || (knobs.globalTwoFactor === 'all' && !u.totp))
    ) {
      return NONE; // R1
    }
    if (owner.kind === 'org') {
      let mode = NONE;
      if (u !== undefined) {
        const teams = owner.teams.filter((t) =>
          t.members.some((m) => m.toLowerCase() === u.name.toLowerCase()),
        );
        mode = Math.max(NONE, ...teams.map(teamMode)); // O1
        if (mode < WRITE) {
          const packages = teams.map((t) =>
            typeof t.access === 'object' ? (t.access['packages'] ?? NONE) : NONE,
          );
          mode = Math.max(mode, ...packages); // O2
        }
      }
      if (mode === NONE && orgVisible(owner, u)) mode = READ; // O3
      return mode;
    }
    if (u !== undefined && u.id === owner.id) return OWNER; // U1
    if (u !== undefined && owner.visibility !== 'private') return READ; // U2
    if (u === undefined && owner.visibility === 'public') return READ; // U3
    return NONE; // U4
  }

  /** forge.md §3.3 */
  function gate(owner: Owner, caller: Caller, need: number): 'ok' | 'challenge' | 'forbidden' {
    if (caller.kind === 'user' && caller.scopes !== undefined) {
      const wanted = need >= WRITE ? 'write:package' : 'read:package';
      if (!hasScope(caller.scopes, wanted)) return 'challenge'; // G1
      if (caller.scopes.includes('public-only') && owner.visibility === 'private') {
        return 'forbidden'; // G2
      }
    }
    if (caller.kind === 'user' && caller.user.admin) return 'ok';
    return modeFor(owner, caller) >= need ? 'ok' : 'challenge'; // G3
  }

  // --- responses --------------------------------------------------------------------------

  const text = (
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const apiError = (res: ServerResponse, status: number, message: string) =>
    json(res, status, { message, url: `${baseUrl}/api/swagger` });

  /** Forgejo's RedirectToUser: first occurrence of the old name in the path, query kept. */
  function redirectToOwner(
    res: ServerResponse,
    rawPath: string,
    rawQuery: string,
    oldName: string,
    owner: Owner,
  ) {
    const location =
      rawPath.replace(encodeURIComponent(oldName), encodeURIComponent(owner.name)) +
      (rawQuery === '' ? '' : `?${rawQuery}`);
    res.writeHead(307, { Location: location });
    res.end();
  }

  function userJson(u: User, viewer: User | undefined) {
    const base = {
      id: u.id,
      login: u.name,
      username: u.name,
      full_name: '',
      email: `${u.name}@example.test`,
      visibility: u.visibility,
    };
    if (viewer === undefined || !(viewer.admin || viewer.id === u.id)) return base;
    return {
      ...base,
      is_admin: u.admin,
      restricted: u.restricted,
      active: u.active,
      prohibit_login: u.prohibitLogin,
      login_name: '',
    };
  }

  const orgJson = (o: Org) => ({
    id: o.id,
    name: o.name,
    username: o.name,
    full_name: '',
    visibility: o.visibility,
  });

  /** The token scope check of `/api/v1` routes. */
  function apiScopeOk(caller: Caller, wanted: string): boolean {
    return caller.kind !== 'user' || caller.scopes === undefined || hasScope(caller.scopes, wanted);
  }

  async function handleApi(
    route: FakeForgeRoute,
    req: IncomingMessage,
    res: ServerResponse,
    segments: readonly string[],
    rawPath: string,
    query: URLSearchParams,
    rawQuery: string,
  ): Promise<void> {
    const caller = await authenticate(req, query);
    if (caller.kind === 'bad') return apiError(res, 401, 'user does not exist');
    const viewer = caller.kind === 'user' ? caller.user : undefined;
    const needScope = (wanted: string) => {
      if (apiScopeOk(caller, wanted)) return true;
      apiError(res, 403, `token does not have at least one of required scope(s): [${wanted}]`);
      return false;
    };
    switch (route) {
      case 'user':
        if (viewer === undefined) return apiError(res, 401, 'token is required');
        if (!needScope('read:user')) return;
        return json(res, 200, userJson(viewer, viewer));
      case 'users-search': {
        if (!needScope('read:user')) return;
        if (knobs.disableUsersPage) return apiError(res, 404, 'not found');
        const uid = query.get('uid');
        const limit = Number(query.get('limit') ?? '10') || 10;
        const found = state.users
          .filter((u) => u.id > 0)
          .filter((u) => uid === null || String(u.id) === uid)
          .filter(
            (u) =>
              viewer?.admin === true ||
              viewer?.id === u.id ||
              u.visibility === 'public' ||
              (u.visibility === 'limited' && viewer !== undefined),
          )
          .slice(0, limit);
        return json(res, 200, { ok: true, data: found.map((u) => userJson(u, viewer)) });
      }
      case 'users': {
        if (!needScope('read:user')) return;
        const name = decodeURIComponent(segments[3] ?? '');
        const owner = ownerByName(name);
        if (owner === undefined) {
          const target = redirectOf(name);
          if (target !== undefined) return redirectToOwner(res, rawPath, rawQuery, name, target);
          return apiError(res, 404, 'user does not exist');
        }
        const visible =
          owner.kind === 'org'
            ? orgVisible(owner, viewer)
            : owner.visibility === 'public' ||
              (owner.visibility === 'limited' && viewer !== undefined) ||
              viewer?.admin === true ||
              viewer?.id === owner.id;
        if (!visible) return apiError(res, 404, 'user does not exist');
        if (owner.kind === 'org') {
          return json(res, 200, { ...orgJson(owner), login: owner.name, email: '' });
        }
        return json(res, 200, userJson(owner, viewer));
      }
      case 'orgs': {
        if (!needScope('read:organization')) return;
        const name = decodeURIComponent(segments[3] ?? '');
        const owner = ownerByName(name);
        if (owner === undefined) {
          const target = redirectOf(name);
          if (target !== undefined) return redirectToOwner(res, rawPath, rawQuery, name, target);
        }
        if (owner?.kind !== 'org' || !orgVisible(owner, viewer)) {
          return apiError(res, 404, 'org does not exist');
        }
        return json(res, 200, orgJson(owner));
      }
      default:
        return apiError(res, 404, 'not found');
    }
  }

  async function handlePackages(
    route: FakeForgeRoute,
    req: IncomingMessage,
    res: ServerResponse,
    segments: readonly string[],
    rawPath: string,
    query: URLSearchParams,
    rawQuery: string,
  ): Promise<void> {
    if (!knobs.packagesEnabled || route === 'unknown')
      return text(res, 404, '404 page not found\n');
    const caller = await authenticate(req, query);
    if (caller.kind === 'bad') return text(res, 401, 'authGroup.Verify\n');
    const name = decodeURIComponent(segments[2] ?? '');
    const owner = ownerByName(name);
    if (owner === undefined) {
      const target = redirectOf(name);
      if (target !== undefined) return redirectToOwner(res, rawPath, rawQuery, name, target);
      return text(res, 404, 'Not found.\n');
    }
    const need = route === 'generic-delete' ? WRITE : READ;
    const verdict = gate(owner, caller, need);
    if (verdict === 'challenge') {
      return text(res, 401, 'reqPackageAccess\n', {
        'WWW-Authenticate': 'Basic realm="Gitea Package API"',
      });
    }
    if (verdict === 'forbidden') return text(res, 403, 'reqToken\n');
    switch (route) {
      case 'generic-get':
      case 'generic-delete':
        return text(res, 404, 'package does not exist\n');
      case 'conan-check':
        return caller.kind === 'user' ? text(res, 200, 'ok') : text(res, 401, 'unauthorized\n');
      case 'conan-authenticate': {
        if (caller.kind !== 'user') return text(res, 400, 'bad request\n');
        const now = nowS();
        const exp = Math.min(now + 24 * 3600, caller.expiresAtS ?? Number.MAX_SAFE_INTEGER);
        const jwt = await new SignJWT({ UserID: caller.user.id, Scope: caller.scopeText })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime(exp)
          .setNotBefore(now)
          .sign(keys.packages);
        return text(res, 200, jwt);
      }
      default:
        return text(res, 404, '404 page not found\n');
    }
  }

  function handleOAuth(route: FakeForgeRoute, res: ServerResponse): void {
    if (knobs.oauth2 === 'off') return text(res, 404, '404 page not found\n');
    const alg = knobs.oauth2;
    if (route === 'openid-configuration') {
      return json(res, 200, {
        issuer: baseUrl,
        authorization_endpoint: `${baseUrl}/login/oauth/authorize`,
        token_endpoint: `${baseUrl}/login/oauth/access_token`,
        jwks_uri: `${baseUrl}/login/oauth/keys`,
        userinfo_endpoint: `${baseUrl}/login/oauth/userinfo`,
        introspection_endpoint: `${baseUrl}/login/oauth/introspect`,
        id_token_signing_alg_values_supported: [alg],
      });
    }
    if (alg === 'HS256')
      return json(res, 200, { keys: [{ kty: 'oct', alg: 'HS256', use: 'sig' }] });
    return json(res, 200, { keys: [alg === 'ES256' ? keys.es.jwk : keys.rs.jwk] });
  }

  function describeCredential(req: IncomingMessage, query: URLSearchParams) {
    const service = tokenValue('service');
    const authorization = firstHeader(req, 'authorization');
    const q = [query.get('token'), query.get('access_token')];
    let kind: CredentialKind = q.some((v) => v) ? 'query' : 'anonymous';
    let secrets = q.filter((v): v is string => v !== null);
    if (authorization !== undefined) {
      const [scheme = '', value = ''] = authorization.trim().split(/\s+/);
      const lower = scheme.toLowerCase();
      kind = lower === 'basic' || lower === 'token' || lower === 'bearer' ? lower : 'other';
      secrets = [
        ...secrets,
        authorization,
        lower === 'basic' ? Buffer.from(value, 'base64').toString('utf8') : '',
      ];
    }
    return { kind, service: secrets.some((s) => s.includes(service)) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const rawPath = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
    const rawQuery = queryAt < 0 ? '' : rawUrl.slice(queryAt + 1);
    const query = new URLSearchParams(rawQuery);
    const segments = rawPath.replace(/^\/+/, '').split('/');
    const route = routeOf(method, segments);
    const redacted = new URLSearchParams(query);
    for (const k of ['token', 'access_token']) if (redacted.has(k)) redacted.set(k, 'REDACTED');
    const credential = describeCredential(req, query);
    const call: ForgeCall = {
      method,
      route,
      path: rawPath,
      query: redacted.toString(),
      credential: credential.kind,
      service: credential.service,
      headerNames: Object.keys(req.headers),
      status: 0,
    };
    calls.push(call);
    res.on('finish', () => {
      call.status = res.statusCode;
    });

    if (knobs.latencyMs > 0) await new Promise((r) => setTimeout(r, knobs.latencyMs));
    const fault = faults.get(route) ?? faults.get('any');
    if (fault === 'hang') return; // answered never; close() drops the socket
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'oversize') return text(res, 404, 'x'.repeat(64 * 1024 + 1));
    if (fault !== undefined) {
      const status = fault.startsWith('status:') ? Number(fault.slice(7)) : Number(fault);
      return text(res, status, status >= 500 ? 'Internal Server Error\n' : '');
    }

    if (segments[0] === 'api' && segments[1] === 'v1') {
      if (route === 'version') return json(res, 200, { version: knobs.version });
      return handleApi(route, req, res, segments, rawPath, query, rawQuery);
    }
    if (segments[0] === 'api' && segments[1] === 'packages') {
      return handlePackages(route, req, res, segments, rawPath, query, rawQuery);
    }
    if (route === 'openid-configuration' || route === 'oauth-keys') return handleOAuth(route, res);
    return text(res, 404, '404 page not found\n');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) text(res, 500, 'Internal Server Error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    get calls() {
      return calls;
    },
    get knobs() {
      return knobs;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    resetCalls() {
      calls = [];
    },
    set(changes) {
      knobs = { ...knobs, ...changes };
    },
    fault(route, kind) {
      if (kind === undefined) faults.delete(route);
      else faults.set(route, kind);
    },
    token: tokenValue,
    async mintAccessToken(grantId, opts = {}) {
      const now = nowS();
      const payload: JWTPayload = {
        gnt: grantId,
        iat: now + (opts.iat ?? 0),
        exp: now + (opts.expSeconds ?? 3600),
      };
      if (opts.tt !== null) payload['tt'] = opts.tt ?? 0;
      const alg = knobs.oauth2 === 'off' ? 'RS256' : knobs.oauth2;
      let jwt: string;
      if (alg === 'HS256') {
        jwt = await new SignJWT(payload)
          .setProtectedHeader({ alg, typ: 'JWT' })
          .sign(opts.foreignKey || opts.foreignIssuer ? randomBytes(32) : keys.hs);
      } else {
        const own = alg === 'ES256' ? keys.es : keys.rs;
        const foreign = alg === 'ES256' ? keys.foreignEs : keys.foreignRs;
        const kid = opts.foreignIssuer ? 'another-issuer' : String(own.jwk.kid);
        jwt = await new SignJWT(payload)
          .setProtectedHeader({ alg, typ: 'JWT', kid })
          .sign(opts.foreignKey || opts.foreignIssuer ? foreign : own.privateKey);
      }
      minted.push(jwt);
      return jwt;
    },
    revokeGrant(id) {
      state.grants.delete(id);
    },
    deleteToken(name) {
      state.tokens.delete(tokenValue(name));
      state.actionsTokens.delete(tokenValue(name));
    },
    rename(oldName, newName) {
      const owner = ownerByName(oldName);
      if (owner === undefined) throw new Error(`fake forge: no owner ${oldName}`);
      state.redirects.set(owner.name.toLowerCase(), owner.id);
      owner.name = newName;
    },
    reset() {
      knobs = { ...DEFAULT_KNOBS, ...options.knobs };
      state = fixtures();
      faults = new Map();
      calls = [];
    },
    secrets() {
      const passwords = state.users.map((u) => password(u.name));
      return [...FIXTURE_TOKEN_NAMES.map(tokenValue), ...passwords, ACCEPTED_OTP, ...minted];
    },
  };
}

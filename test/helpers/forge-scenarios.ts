// forge.md §10.5 "Required scenarios" as data: the auth unit tests and the route-level tests
// iterate the same rows, so both layers are held to one table.
import { ACCEPTED_OTP, password, type FakeForge, type FakeForgeKnobs } from './fake-forge.js';

/** ok = allowed; C = 401 + challenge; B = bare 401; 403; 404; 307. */
export type Outcome = 'ok' | 'C' | 'B' | 403 | 404 | 307;

/** What the caller sends. Header names are lower-case, as Node hands them to Stowage. */
export interface ScenarioRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
}

export interface Scenario {
  /** The caller column, one caller per row. */
  readonly caller: string;
  /** The owner path segment, as the client sends it. */
  readonly owner: string;
  readonly read: Outcome;
  readonly write: Outcome;
  /** Set on the double before the request; such rows need caches that have not seen the others. */
  readonly knobs?: Partial<FakeForgeKnobs>;
  /** 307 rows: the owner segment in `Location`. */
  readonly renamedTo?: string;
  /** Pre-filter rows: no `/api/packages/` call may reach the forge. */
  readonly noProbe?: boolean;
  /** Builds the caller's headers and query against a running double (tokens, minted JWTs). */
  request(forge: FakeForge): Promise<ScenarioRequest>;
}

const basic = (user: string, pass: string) =>
  `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;

type Build = (forge: FakeForge) => ScenarioRequest | Promise<ScenarioRequest>;

const anonymous: Build = () => ({ headers: {}, query: {} });
const header =
  (
    value: (forge: FakeForge) => string | Promise<string>,
    extra: Record<string, string> = {},
  ): Build =>
  async (forge) => ({ headers: { authorization: await value(forge), ...extra }, query: {} });
const tokenHeader = (name: string) => header((f) => `token ${f.token(name)}`);
const bearer = (name: string) => header((f) => `Bearer ${f.token(name)}`);
const password_ = (login: string, extra: Record<string, string> = {}) =>
  header(() => basic(login, password(login)), extra);
const oauth = (grant: number, options: Parameters<FakeForge['mintAccessToken']>[1] = {}) =>
  header(async (f) => `Bearer ${await f.mintAccessToken(grant, options)}`);

interface Row {
  readonly caller: string;
  readonly owners: readonly string[];
  readonly read: Outcome;
  readonly write: Outcome;
  readonly build: Build;
  readonly knobs?: Partial<FakeForgeKnobs>;
  readonly renamedTo?: string;
  readonly noProbe?: boolean;
}

// One entry per caller and owner group of the spec table; expanded to one row per owner below.
const ROWS: readonly Row[] = [
  { caller: 'anonymous', owners: ['alice', 'acme'], read: 'ok', write: 'C', build: anonymous },
  {
    caller: 'anonymous',
    owners: ['lena', 'pia', 'limco', 'hush'],
    read: 'C',
    write: 'C',
    build: anonymous,
  },
  { caller: 'anonymous', owners: ['nosuch'], read: 404, write: 404, build: anonymous },
  {
    caller: 'anonymous',
    owners: ['acme-old'],
    read: 307,
    write: 307,
    build: anonymous,
    renamedTo: 'acme',
  },
  {
    caller: 'Basic alice:alice-pw',
    owners: ['alice', 'hush'],
    read: 'ok',
    write: 'ok',
    build: password_('alice'),
  },
  {
    caller: 'Basic alice:wrong',
    owners: ['alice', 'nosuch', 'acme-old'],
    read: 'B',
    write: 'B',
    build: header(() => basic('alice', 'wrong')),
  },
  {
    caller: 'alice-write as Basic password',
    owners: ['alice'],
    read: 'ok',
    write: 'ok',
    build: header((f) => basic('alice', f.token('alice-write'))),
  },
  {
    caller: 'alice-write as Basic username',
    owners: ['alice'],
    read: 'ok',
    write: 'ok',
    build: header((f) => basic(f.token('alice-write'), '')),
  },
  {
    caller: 'alice-write as Basic username with x-oauth-basic',
    owners: ['alice'],
    read: 'ok',
    write: 'ok',
    build: header((f) => basic(f.token('alice-write'), 'x-oauth-basic')),
  },
  {
    caller: 'token alice-read',
    owners: ['alice'],
    read: 'ok',
    write: 'C',
    build: tokenHeader('alice-read'),
  },
  {
    caller: 'Bearer alice-repo',
    owners: ['acme'],
    read: 'C',
    write: 'C',
    build: bearer('alice-repo'),
  },
  {
    caller: 'token alice-public',
    owners: ['pia', 'hush'],
    read: 403,
    write: 403,
    build: tokenHeader('alice-public'),
  },
  {
    caller: 'token alice-public',
    owners: ['lena'],
    read: 'ok',
    write: 'C',
    build: tokenHeader('alice-public'),
  },
  {
    caller: 'token bob-write',
    owners: ['acme', 'hush'],
    read: 'ok',
    write: 'C',
    build: tokenHeader('bob-write'),
  },
  {
    caller: 'token carol-write',
    owners: ['acme'],
    read: 'ok',
    write: 'ok',
    build: tokenHeader('carol-write'),
  },
  {
    caller: 'token quinn-write',
    owners: ['acme'],
    read: 'ok',
    write: 'ok',
    build: tokenHeader('quinn-write'),
  },
  {
    caller: 'token dave-write',
    owners: ['acme', 'limco'],
    read: 'ok',
    write: 'C',
    build: tokenHeader('dave-write'),
  },
  {
    caller: 'token dave-write',
    owners: ['hush', 'pia'],
    read: 'C',
    write: 'C',
    build: tokenHeader('dave-write'),
  },
  {
    caller: 'token rita-read',
    owners: ['alice', 'lena'],
    read: 'ok',
    write: 'C',
    build: tokenHeader('rita-read'),
  },
  {
    caller: 'token rita-read',
    owners: ['acme', 'limco'],
    read: 'C',
    write: 'C',
    build: tokenHeader('rita-read'),
  },
  {
    caller: 'token root-pkg',
    owners: ['pia', 'hush'],
    read: 'ok',
    write: 'C',
    build: tokenHeader('root-pkg'),
  },
  {
    caller: 'Basic root:root-pw',
    owners: ['hush'],
    read: 'ok',
    write: 'ok',
    build: password_('root'),
  },
  {
    caller: 'token root-repo',
    owners: ['acme'],
    read: 'C',
    write: 'C',
    build: tokenHeader('root-repo'),
  },
  {
    caller: 'Basic otto:otto-pw, no OTP',
    owners: ['otto'],
    read: 'B',
    write: 'B',
    build: password_('otto'),
  },
  {
    caller: 'Basic otto:otto-pw, wrong OTP',
    owners: ['otto'],
    read: 'B',
    write: 'B',
    build: password_('otto', { 'x-forgejo-otp': '654321' }),
  },
  {
    caller: `Basic otto:otto-pw, X-Forgejo-OTP: ${ACCEPTED_OTP}`,
    owners: ['otto'],
    read: 'ok',
    write: 'ok',
    build: password_('otto', { 'x-forgejo-otp': ACCEPTED_OTP }),
  },
  {
    caller: 'Basic wendy:wendy-pw',
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: password_('wendy'),
  },
  {
    caller: 'Basic pete:pete-pw',
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: password_('pete'),
  },
  { caller: 'Basic ina:ina-pw', owners: ['alice'], read: 'C', write: 'C', build: password_('ina') },
  {
    caller: 'token ina-write',
    owners: ['alice'],
    read: 'C',
    write: 'C',
    build: tokenHeader('ina-write'),
  },
  {
    caller: 'token pete-write',
    owners: ['alice'],
    read: 'C',
    write: 'C',
    build: tokenHeader('pete-write'),
  },
  {
    caller: 'token revoked',
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: tokenHeader('revoked'),
  },
  {
    caller: 'token actions-finished',
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: tokenHeader('actions-finished'),
  },
  {
    caller: 'Authorization: Digest x',
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: header(() => 'Digest x'),
  },
  {
    caller: 'token actions-running',
    owners: ['acme', 'lena'],
    read: 'ok',
    write: 'C',
    build: tokenHeader('actions-running'),
  },
  {
    caller: 'token actions-running',
    owners: ['hush'],
    read: 'C',
    write: 'C',
    build: tokenHeader('actions-running'),
  },
  {
    caller: '?token= alice-write',
    owners: ['alice'],
    read: 'ok',
    write: 'ok',
    build: (f) => ({ headers: {}, query: { token: f.token('alice-write') } }),
  },
  {
    caller: '?token= alice-write with disableQueryAuthToken',
    owners: ['alice'],
    read: 'ok',
    write: 'C',
    build: (f) => ({ headers: {}, query: { token: f.token('alice-write') } }),
    knobs: { disableQueryAuthToken: true },
  },
  { caller: 'OAuth grant 1', owners: ['alice'], read: 'ok', write: 'ok', build: oauth(1) },
  { caller: 'OAuth grant 2', owners: ['acme'], read: 'ok', write: 'C', build: oauth(2) },
  { caller: 'OAuth grant 3 (revoked)', owners: ['alice'], read: 'B', write: 'B', build: oauth(3) },
  {
    caller: 'OAuth expired > 60 s',
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: oauth(1, { expSeconds: -120, iat: -3720 }),
    noProbe: true,
  },
  {
    caller: "OAuth foreign key under the forge's kid",
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: oauth(1, { foreignKey: true }),
    noProbe: true,
  },
  {
    caller: 'OAuth tt=1',
    owners: ['alice'],
    read: 'B',
    write: 'B',
    build: oauth(1, { tt: 1 }),
    noProbe: true,
  },
  {
    caller: 'anonymous with requireSigninView',
    owners: ['alice'],
    read: 'C',
    write: 'C',
    build: anonymous,
    knobs: { requireSigninView: true },
  },
];

/** Every row of forge.md §10.5, one per caller and owner. */
export const SCENARIOS: readonly Scenario[] = ROWS.flatMap((row) =>
  row.owners.map((owner): Scenario => ({
    caller: row.caller,
    owner,
    read: row.read,
    write: row.write,
    ...(row.knobs === undefined ? {} : { knobs: row.knobs }),
    ...(row.renamedTo === undefined ? {} : { renamedTo: row.renamedTo }),
    ...(row.noProbe === undefined ? {} : { noProbe: row.noProbe }),
    request: async (forge) => row.build(forge),
  })),
);

/** `Authorization`, OTP and query values of a request: what must never show up in logs. */
export function requestSecrets(request: ScenarioRequest): string[] {
  const fromHeaders = ['authorization', 'x-forgejo-otp', 'x-gitea-otp', 'x-api-key'].flatMap(
    (name) => {
      const value = request.headers[name];
      if (value === undefined) return [];
      const secret = value.replace(/^\S+\s+/, ''); // without the scheme
      const basic = value.toLowerCase().startsWith('basic ')
        ? Buffer.from(secret, 'base64').toString('utf8').split(':')
        : [];
      return [value, secret, ...basic];
    },
  );
  // Short values ('x', '') would match anywhere and are not secrets of the fixtures.
  return [...fromHeaders, ...Object.values(request.query)].filter((s) => s.length >= 6);
}

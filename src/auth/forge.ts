import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { decodeJwt } from 'jose';
import { ConfigError, type ForgeConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import {
  ANONYMOUS,
  buildProbeCredentials,
  createCredentialKeyer,
  describeCredentials,
  extractCredentials,
  isAnonymous,
  isJwtShaped,
  tokenSecrets,
  type CredentialMaterial,
  type ProbeCredentials,
} from './credentials.js';
import type { AccessRequest, Authorizer, Decision, Mode, Uploader } from './decision.js';
import { createOAuthPrefilter, type OAuthPrefilter } from './oauth.js';

// forge.md §5.2: fails the generic name rule, so no real package can ever match.
const PROBE_PACKAGE = 'stowage~probe';
const MAX_BODY_BYTES = 64 * 1024;
const MAX_OWNER_BYTES = 255;
const BREAKER_THRESHOLD = 5;
const BREAKER_OPEN_MS = 10_000;
const CHECK_RETRY_MS = 10_000;
const CANARY_INTERVAL_MS = 60_000;
const LOGIN_TTL_MS = 10 * 60_000;
// forge.md §7: negative entries never live longer than this, whatever the configuration says.
const NEGATIVE_TTL_CAP_S = 5;
// Drop idle pooled sockets before a typical server idle timeout, so a write probe (DELETE,
// never retried) rarely meets a connection the forge has already closed.
const IDLE_SOCKET_MS = 4_000;
const CANARY_AUTHORIZATION = `token ${'0'.repeat(40)}`;

/** forge.md §5.2: an empty, `.`, `..` or >255-byte owner segment is a 404 without a forge call. */
export function isValidOwnerSegment(owner: string): boolean {
  return (
    owner !== '' &&
    owner !== '.' &&
    owner !== '..' &&
    Buffer.byteLength(owner, 'utf8') <= MAX_OWNER_BYTES
  );
}

/** The forge could not answer within the contract: transport failure, timeout, open breaker. */
export class ForgeUnavailableError extends Error {
  /** Refused or reset before any response byte: a GET may be sent once more. */
  readonly retryable: boolean;

  constructor(reason: string, retryable = false) {
    super(reason);
    this.retryable = retryable;
  }
}

/** One forge answer; bodies are at most 64 KiB. */
export interface ForgeAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The path as sent, without query: a rename redirect is read against it. */
  readonly sentPath: string;
}

const decodeSegment = (segment: string | undefined): string | undefined => {
  if (segment === undefined || segment === '' || segment.includes('/')) return undefined;
  try {
    return decodeURIComponent(segment) || undefined;
  } catch {
    return undefined;
  }
};

/**
 * The new owner name in a rename redirect. Forgejo (RedirectToUser) builds `Location` by
 * replacing the first occurrence of the escaped old name in the path it was asked for, which
 * is not always the owner segment; a forge that replaces the segment itself is read as well.
 */
export function renamedOwner(
  sentPath: string,
  oldSegment: string,
  location: string | undefined,
): string | undefined {
  if (location === undefined || oldSegment === '') return undefined;
  let target: string;
  try {
    target = new URL(location, 'http://forge.invalid/').pathname;
  } catch {
    return undefined;
  }
  const at = sentPath.indexOf(oldSegment);
  if (at < 0) return undefined;
  const before = sentPath.slice(0, at);
  const after = sentPath.slice(at + oldSegment.length);
  if (target.endsWith(after)) {
    const head = target.slice(0, target.length - after.length);
    // The forge may put its sub-path in front of what we sent.
    const start = head.startsWith(before) ? 0 : head.indexOf(before);
    const found = start < 0 ? undefined : decodeSegment(head.slice(start + before.length));
    if (found !== undefined) return found;
  }
  // Segment replaced in place: the one segment that differs, counted from the end.
  const sent = sentPath.split('/').reverse();
  const got = target.split('/').reverse();
  // The leading empty segment is skipped: a sub-path may stand in front.
  const differing = sent.flatMap((segment, i) =>
    i < sent.length - 1 && i < got.length && got[i] !== segment ? [i] : [],
  );
  const only = differing.length === 1 ? differing[0] : undefined;
  return only !== undefined && sent[only] === oldSegment ? decodeSegment(got[only]) : undefined;
}

type Endpoint =
  | 'version'
  | 'user'
  | 'org'
  | 'user_by_name'
  | 'user_search'
  | 'probe_read'
  | 'probe_write'
  | 'canary'
  | 'identity'
  | 'discovery';

/** forge.md §8: 5 consecutive failures open it for 10 s; then one trial call. */
class Breaker {
  private failures = 0;
  private state: 'closed' | 'open' | 'trial' = 'closed';
  private openUntilMs = 0;
  private readonly now: () => number;
  private readonly metrics: Metrics;

  constructor(now: () => number, metrics: Metrics) {
    this.now = now;
    this.metrics = metrics;
  }

  isOpen(): boolean {
    return this.state !== 'closed' && !(this.state === 'open' && this.now() >= this.openUntilMs);
  }

  admit(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open' && this.now() >= this.openUntilMs) {
      this.state = 'trial';
      return true;
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    if (this.state !== 'closed') this.metrics.forgeBreakerOpen.set(0);
    this.state = 'closed';
  }

  /** A call that never reached the forge: give the trial to the next one. */
  abandon(): void {
    if (this.state === 'trial') this.state = 'open';
  }

  failure(): void {
    this.failures++;
    if (this.state === 'trial' || this.failures >= BREAKER_THRESHOLD) {
      this.state = 'open';
      this.openUntilMs = this.now() + BREAKER_OPEN_MS;
      this.metrics.forgeBreakerOpen.set(1);
    }
  }
}

export interface ForgeClientOptions {
  readonly config: ForgeConfig;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => number;
}

const enc = encodeURIComponent;

/** The forge API calls of forge.md §5.2 (F1–F9), over a keep-alive pool, behind the breaker. */
export class ForgeClient {
  private readonly base: URL;
  private readonly serviceToken: string;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly breaker: Breaker;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(opts: ForgeClientOptions) {
    this.base = opts.config.url;
    this.serviceToken = opts.config.serviceToken;
    this.timeoutMs = opts.config.timeoutMs;
    this.connectTimeoutMs = opts.config.connectTimeoutMs;
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.breaker = new Breaker(opts.now, opts.metrics);
    const agentOptions = { keepAlive: true, scheduling: 'lifo' as const, timeout: IDLE_SOCKET_MS };
    if (this.base.protocol === 'https:') {
      this.agent = new HttpsAgent(agentOptions);
      this.send = httpsRequest;
    } else {
      this.agent = new HttpAgent(agentOptions);
      this.send = httpRequest;
    }
  }

  /** F1 */
  version(): Promise<ForgeAnswer> {
    return this.call('version', 'GET', 'api/v1/version', { Accept: 'application/json' });
  }

  /** F2 */
  currentUser(): Promise<ForgeAnswer> {
    return this.call('user', 'GET', 'api/v1/user', this.serviceHeaders());
  }

  /** F3 */
  org(name: string): Promise<ForgeAnswer> {
    return this.call('org', 'GET', `api/v1/orgs/${enc(name)}`, this.serviceHeaders());
  }

  /** F4 */
  user(name: string): Promise<ForgeAnswer> {
    return this.call('user_by_name', 'GET', `api/v1/users/${enc(name)}`, this.serviceHeaders());
  }

  /** F5 */
  searchUser(id: number): Promise<ForgeAnswer> {
    return this.call('user_search', 'GET', 'api/v1/users/search', this.serviceHeaders(), {
      query: `uid=${enc(String(id))}&limit=1`,
    });
  }

  /** F6 (read) or F7 (write) with the caller's credentials. */
  probe(mode: Mode, owner: string, creds: ProbeCredentials): Promise<ForgeAnswer> {
    const path = `api/packages/${enc(owner)}/generic/${PROBE_PACKAGE}/0`;
    return mode === 'read'
      ? this.call('probe_read', 'GET', `${path}/x`, creds.headers, { query: creds.query })
      : this.call('probe_write', 'DELETE', path, creds.headers, { query: creds.query });
  }

  /** F6 for the service token's login with a token that cannot exist (forge.md §5.5). */
  canary(login: string): Promise<ForgeAnswer> {
    const path = `api/packages/${enc(login)}/generic/${PROBE_PACKAGE}/0/x`;
    return this.call('canary', 'GET', path, {
      Accept: 'text/plain',
      Authorization: CANARY_AUTHORIZATION,
    });
  }

  /** F8 with the caller's credentials. */
  identity(owner: string, creds: ProbeCredentials): Promise<ForgeAnswer> {
    const path = `api/packages/${enc(owner)}/conan/v1/users/authenticate`;
    return this.call('identity', 'GET', path, creds.headers, { query: creds.query });
  }

  /** F9, discovery half; jose fetches the key set itself. */
  discovery(): Promise<ForgeAnswer> {
    return this.call('discovery', 'GET', '.well-known/openid-configuration', {
      Accept: 'application/json',
    });
  }

  breakerOpen(): boolean {
    return this.breaker.isOpen();
  }

  close(): void {
    this.agent.destroy();
  }

  private serviceHeaders(): Record<string, string> {
    return { Accept: 'application/json', Authorization: `token ${this.serviceToken}` };
  }

  private async call(
    endpoint: Endpoint,
    method: 'GET' | 'DELETE',
    path: string,
    headers: Readonly<Record<string, string>>,
    opts: { query?: string } = {},
  ): Promise<ForgeAnswer> {
    if (!this.breaker.admit()) {
      this.metrics.forgeCalls.inc({ endpoint, status: 'breaker' });
      throw new ForgeUnavailableError('breaker open');
    }
    const url = new URL(path, this.base);
    url.search = opts.query ?? '';
    const started = performance.now();
    const deadline = started + this.timeoutMs;
    try {
      let answer: ForgeAnswer;
      try {
        answer = await this.attempt(method, url, headers, deadline);
      } catch (err) {
        if (!(method === 'GET' && err instanceof ForgeUnavailableError && err.retryable)) throw err;
        answer = await this.attempt(method, url, headers, deadline);
      }
      if (answer.status >= 500) this.breaker.failure();
      else this.breaker.success();
      this.metrics.forgeCalls.inc({ endpoint, status: String(answer.status) });
      return answer;
    } catch (err) {
      // Only the forge's failures count; a request Node refuses to send (say, a header it
      // rejects) says nothing about the forge.
      if (err instanceof ForgeUnavailableError) this.breaker.failure();
      else this.breaker.abandon();
      const reason = err instanceof ForgeUnavailableError ? err.message : 'request not sent';
      this.metrics.forgeCalls.inc({ endpoint, status: 'error' });
      // The path only: a query may hold a caller's token.
      this.log.warn({ endpoint, path: url.pathname, reason }, 'forge call failed');
      throw err instanceof ForgeUnavailableError ? err : new ForgeUnavailableError(reason);
    } finally {
      this.metrics.forgeLatency.observe({ endpoint }, (performance.now() - started) / 1000);
    }
  }

  private attempt(
    method: string,
    url: URL,
    headers: Readonly<Record<string, string>>,
    deadline: number,
  ): Promise<ForgeAnswer> {
    return new Promise((resolve, reject) => {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        reject(new ForgeUnavailableError('timeout'));
        return;
      }
      let settled = false;
      let responded = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const req = this.send(url, { method, headers: { ...headers }, agent: this.agent });
      const fail = (err: ForgeUnavailableError) => {
        if (settled) return;
        settled = true;
        clearTimeout(totalTimer);
        clearTimeout(connectTimer);
        req.destroy();
        reject(err);
      };
      const totalTimer = setTimeout(() => fail(new ForgeUnavailableError('timeout')), remaining);
      req.on('socket', (socket) => {
        if (!socket.connecting) return; // reused from the pool
        connectTimer = setTimeout(
          () => fail(new ForgeUnavailableError('connect timeout')),
          this.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'transport error';
        const retryable = !responded && (code === 'ECONNREFUSED' || code === 'ECONNRESET');
        fail(new ForgeUnavailableError(code.toLowerCase(), retryable));
      });
      req.on('response', (res) => {
        responded = true;
        const tooLarge = () => fail(new ForgeUnavailableError('body over 64 KiB'));
        if (Number(res.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
          tooLarge();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) tooLarge();
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(totalTimer);
          clearTimeout(connectTimer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            sentPath: url.pathname,
          });
        });
        res.on('error', () => fail(new ForgeUnavailableError('reset mid-body')));
        res.on('close', () => fail(new ForgeUnavailableError('reset mid-body')));
      });
      req.end();
    });
  }
}

/** Bounded map with per-entry expiry on the injected clock; expired entries are never served. */
class TtlCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expiresAtMs: number }>();
  private readonly name: string;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly metrics: Metrics;

  constructor(name: string, maxEntries: number, now: () => number, metrics: Metrics) {
    this.name = name;
    this.maxEntries = maxEntries;
    this.now = now;
    this.metrics = metrics;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.expiresAtMs <= this.now()) this.entries.delete(key);
    const live = entry !== undefined && entry.expiresAtMs > this.now();
    this.metrics.authCache.inc({ cache: this.name, result: live ? 'hit' : 'miss' });
    return live ? entry.value : undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAtMs: this.now() + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/** One forge call per key at a time; later callers share the first one's result. */
class SingleFlight {
  private readonly running = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const current = this.running.get(key);
    if (current !== undefined) return current as Promise<T>;
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }
}

interface KnownOwner {
  readonly kind: 'known';
  readonly id: number;
  readonly name: string;
  readonly type: 'org' | 'user';
  readonly visibility: string;
}

type OwnerEntry =
  | KnownOwner
  | { readonly kind: 'unknown' }
  | { readonly kind: 'renamed'; readonly newName: string };

/** What may sit in the decision caches (forge.md §7). */
type Verdict = 'allow' | 'denied' | 'publicOnly';

interface Identity {
  readonly userId: number;
  readonly login: string | undefined;
  readonly scope: string;
}

type ProbeReading =
  | { readonly kind: Verdict }
  | { readonly kind: 'badCredential' }
  | { readonly kind: 'renamed'; readonly newOwner: string }
  | { readonly kind: 'unavailable' };

/** forge.md §5.4 */
function readProbe(answer: ForgeAnswer, ownerSegment: string): ProbeReading {
  switch (answer.status) {
    case 404:
      return { kind: 'allow' };
    case 401:
      return answer.headers['www-authenticate'] === undefined
        ? { kind: 'badCredential' }
        : { kind: 'denied' };
    case 403:
      return { kind: 'publicOnly' };
    case 307: {
      const newOwner = renamedOwner(answer.sentPath, ownerSegment, answer.headers.location);
      return newOwner === undefined ? { kind: 'unavailable' } : { kind: 'renamed', newOwner };
    }
    default:
      return { kind: 'unavailable' };
  }
}

function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function parseOwner(body: string, type: 'org' | 'user'): KnownOwner | undefined {
  const json = parseJsonObject(body);
  const id = json?.['id'];
  const name = type === 'org' ? (json?.['name'] ?? json?.['username']) : json?.['login'];
  const visibility = json?.['visibility'];
  if (
    typeof id !== 'number' ||
    !Number.isSafeInteger(id) ||
    typeof name !== 'string' ||
    name === ''
  )
    return undefined;
  return {
    kind: 'known',
    id,
    name,
    type,
    visibility: typeof visibility === 'string' ? visibility : 'unknown',
  };
}

export interface ForgeAuthorizerOptions {
  readonly config: ForgeConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Epoch ms for cache expiry and the breaker; tests move it instead of sleeping. */
  readonly now?: () => number;
  /** A background check found a fatal misconfiguration (F2). Default: logged only. */
  readonly onFatal?: (message: string) => void;
}

/** The forge-mode Authorizer, plus a way to run the background checks at once. */
export interface ForgeAuthorizer extends Authorizer {
  /** Runs the pending startup checks (F1, F2, F9) and the canary now. */
  checkNow(): Promise<void>;
}

const UNAVAILABLE: Decision = { kind: 'unavailable' };
const BAD_CREDENTIAL: Decision = { kind: 'badCredential' };
const OWNER_UNKNOWN: Decision = { kind: 'ownerUnknown' };
const DENIED: Decision = { kind: 'denied' };
const PUBLIC_ONLY: Decision = { kind: 'publicOnly' };

/** forge.md §5.3: every decision comes from a probe with the caller's own credentials. */
export function createForgeAuthorizer(opts: ForgeAuthorizerOptions): ForgeAuthorizer {
  const { config, metrics } = opts;
  const now = opts.now ?? Date.now;
  const log = opts.log.child({ component: 'forge' });
  const client = new ForgeClient({ config, metrics, log, now });
  const prefilter: OAuthPrefilter = createOAuthPrefilter({
    forgeUrl: config.url,
    setting: config.oauthPrefilter,
    now,
  });
  const keyOf = createCredentialKeyer();
  const flights = new SingleFlight();
  const max = config.authCacheMaxEntries;
  const owners = new TtlCache<OwnerEntry>('owner', max, now, metrics);
  const decisions = new TtlCache<Verdict>('decision', max, now, metrics);
  const anonymousDecisions = new TtlCache<Verdict>('anonymous', max, now, metrics);
  const badCredentials = new TtlCache<true>('bad_credential', max, now, metrics);
  const identities = new TtlCache<Identity>('identity', max, now, metrics);
  const logins = new TtlCache<{ readonly login: string | undefined }>('login', max, now, metrics);
  const positiveTtlMs = config.authCacheTtlS * 1000;
  const negativeTtlMs = Math.min(config.authNegativeTtlS, NEGATIVE_TTL_CAP_S) * 1000;
  const ownerTtlMs = config.ownerCacheTtlS * 1000;

  let versionChecked = false;
  let serviceLogin: string | undefined;
  let canary: 'unverified' | 'passed' | 'failed' = 'unverified';
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;

  /** Any F2–F5 answer outside the contract: 503; 401/403 point at the service token. */
  function unexpected(endpoint: string, answer: ForgeAnswer): ForgeUnavailableError {
    if (answer.status === 401 || answer.status === 403) {
      log.error(
        { endpoint, status: answer.status },
        'forge refused the service token: check FORGE_SERVICE_TOKEN and its scopes',
      );
    }
    return new ForgeUnavailableError(`unexpected ${answer.status} from ${endpoint}`);
  }

  async function lookupOwner(name: string): Promise<OwnerEntry> {
    const renamed = (answer: ForgeAnswer, endpoint: string): OwnerEntry => {
      const newName = renamedOwner(answer.sentPath, enc(name), answer.headers.location);
      if (newName === undefined) throw unexpected(endpoint, answer);
      return { kind: 'renamed', newName };
    };
    const found = (answer: ForgeAnswer, type: 'org' | 'user', endpoint: string): OwnerEntry => {
      const owner = parseOwner(answer.body, type);
      if (owner === undefined) throw unexpected(endpoint, answer);
      return owner;
    };
    const org = await client.org(name);
    if (org.status === 200) return found(org, 'org', 'F3');
    if (org.status === 307) return renamed(org, 'F3');
    if (org.status !== 404) throw unexpected('F3', org);
    const user = await client.user(name);
    if (user.status === 200) return found(user, 'user', 'F4');
    if (user.status === 307) return renamed(user, 'F4');
    if (user.status === 404) return { kind: 'unknown' };
    throw unexpected('F4', user);
  }

  /** Owner cache: credential-independent, keyed by the lower-cased name. */
  async function resolveOwner(name: string): Promise<OwnerEntry> {
    const key = name.toLowerCase();
    const hit = owners.get(key);
    if (hit !== undefined) return hit;
    return flights.run(`owner\0${key}`, async () => {
      const entry = await lookupOwner(name);
      owners.set(key, entry, entry.kind === 'known' ? ownerTtlMs : negativeTtlMs);
      return entry;
    });
  }

  async function loginOf(userId: number): Promise<string | undefined> {
    const key = String(userId);
    const hit = logins.get(key);
    if (hit !== undefined) return hit.login;
    return flights.run(`login\0${key}`, async () => {
      const answer = await client.searchUser(userId);
      // 404: the users page is disabled; the login is informational, the id is what counts.
      if (answer.status === 404) {
        logins.set(key, { login: undefined }, negativeTtlMs);
        return undefined;
      }
      const data = answer.status === 200 ? parseJsonObject(answer.body)?.['data'] : undefined;
      if (!Array.isArray(data)) throw unexpected('F5', answer);
      const found: unknown = data.find(
        (u: unknown) =>
          typeof u === 'object' && u !== null && (u as Record<string, unknown>)['id'] === userId,
      );
      const login =
        typeof found === 'object' && found !== null
          ? (found as Record<string, unknown>)['login']
          : undefined;
      if (typeof login === 'string' && login !== '') {
        logins.set(key, { login }, LOGIN_TTL_MS);
        return login;
      }
      logins.set(key, { login: undefined }, negativeTtlMs);
      return undefined;
    });
  }

  /** forge.md §5.3 step 7: F8 for the user id, F5 for the login. */
  async function identityOf(
    credKey: string,
    owner: KnownOwner,
    creds: ProbeCredentials,
  ): Promise<Uploader> {
    const hit = identities.get(credKey);
    const identity =
      hit ??
      (await flights.run(`identity\0${credKey}`, async () => {
        const answer = await client.identity(owner.name, creds);
        if (answer.status !== 200)
          throw new ForgeUnavailableError(`unexpected ${answer.status} from F8`);
        let userId: unknown;
        let scope: unknown;
        try {
          // Not verified: it came from the forge over our own connection. Only two claims kept.
          const claims = decodeJwt(answer.body.trim());
          userId = claims['UserID'];
          scope = claims['Scope'];
        } catch {
          throw new ForgeUnavailableError('F8 answer is not a JWT');
        }
        if (typeof userId !== 'number' || !Number.isSafeInteger(userId)) {
          throw new ForgeUnavailableError('F8 JWT without UserID');
        }
        const found: Identity = {
          userId,
          login: await loginOf(userId),
          scope: typeof scope === 'string' ? scope : '',
        };
        identities.set(credKey, found, positiveTtlMs);
        return found;
      }));
    return { id: identity.userId, login: identity.login };
  }

  /** forge.md §6: bare 401 only when every secret Forgejo could try is a rejected JWT. */
  async function prefilterRejects(material: CredentialMaterial, cred: string): Promise<boolean> {
    if (prefilter.state() !== 'on') return false;
    const secrets = tokenSecrets(material);
    if (secrets.length === 0 || !secrets.every(isJwtShaped)) return false;
    const reasons: string[] = [];
    for (const secret of secrets) {
      const verdict = await prefilter.check(secret);
      if (verdict.verdict !== 'reject') return false;
      reasons.push(verdict.reason);
    }
    log.debug({ cred, reasons }, 'oauth2 pre-filter rejected a token');
    return true;
  }

  interface Trace {
    cacheHit: boolean;
    forgeStatus: number | undefined;
    reason: string | undefined;
  }

  async function decideFor(
    req: AccessRequest,
    material: CredentialMaterial,
    credKey: string,
    trace: Trace,
  ): Promise<Decision> {
    const anonymous = isAnonymous(material);
    // Anonymous probes send nothing, so every anonymous caller shares one answer.
    const creds = buildProbeCredentials(anonymous ? ANONYMOUS : material, req.forwardedFor);

    if (!anonymous) {
      if (await prefilterRejects(material, credKey.slice(0, 8))) {
        trace.reason = 'oauth2 pre-filter';
        return BAD_CREDENTIAL;
      }
      if (badCredentials.get(credKey) !== undefined) {
        trace.cacheHit = true;
        return BAD_CREDENTIAL;
      }
    }

    const owner = await resolveOwner(req.owner);
    if (owner.kind !== 'known') {
      if (anonymous) {
        return owner.kind === 'unknown'
          ? OWNER_UNKNOWN
          : { kind: 'renamed', newOwner: owner.newName };
      }
      // Forgejo checks credentials before the owner: the probe on the name as given tells
      // whether this is a bare 401 rather than a 404/307.
      const answer = await flights.run(`unresolved\0${credKey}\0${req.owner}`, () =>
        client.probe('read', req.owner, creds),
      );
      trace.forgeStatus = answer.status;
      const reading = readProbe(answer, enc(req.owner));
      switch (reading.kind) {
        case 'allow':
          return OWNER_UNKNOWN;
        case 'badCredential':
          badCredentials.set(credKey, true, negativeTtlMs);
          return BAD_CREDENTIAL;
        case 'renamed':
          return reading;
        case 'denied':
          return DENIED;
        case 'publicOnly':
          return PUBLIC_ONLY;
        default:
          trace.reason = `probe answered ${answer.status}`;
          return UNAVAILABLE;
      }
    }

    if (anonymous && req.mode === 'write') return DENIED;

    const cache = anonymous ? anonymousDecisions : decisions;
    const key = (mode: Mode) => `${credKey}\0${owner.id}\0${mode}`;
    // A Write allow implies Read for the same credential and owner; never the other way.
    const cached =
      cache.get(key(req.mode)) ??
      (req.mode === 'read' && cache.get(key('write')) === 'allow' ? 'allow' : undefined);
    let verdict: Verdict;
    if (cached !== undefined) {
      trace.cacheHit = true;
      verdict = cached;
    } else {
      const { reading, status } = await flights.run(`decision\0${key(req.mode)}`, async () => {
        const answer = await client.probe(req.mode, owner.name, creds);
        const read = readProbe(answer, enc(owner.name));
        if (read.kind === 'allow') cache.set(key(req.mode), 'allow', positiveTtlMs);
        if (read.kind === 'denied' || read.kind === 'publicOnly') {
          cache.set(key(req.mode), read.kind, negativeTtlMs);
        }
        if (read.kind === 'badCredential' && !anonymous) {
          badCredentials.set(credKey, true, negativeTtlMs);
        }
        if (read.kind === 'renamed') {
          owners.delete(req.owner.toLowerCase());
          owners.delete(owner.name.toLowerCase());
        }
        return { reading: read, status: answer.status };
      });
      trace.forgeStatus = status;
      if (reading.kind === 'badCredential' || reading.kind === 'renamed') return reading;
      if (reading.kind === 'unavailable') {
        trace.reason = `probe answered ${status}`;
        return UNAVAILABLE;
      }
      verdict = reading.kind;
    }

    if (verdict === 'denied') return DENIED;
    if (verdict === 'publicOnly') return PUBLIC_ONLY;
    const ref = { id: owner.id, name: owner.name };
    if (req.mode === 'read') return { kind: 'allow', owner: ref };
    return { kind: 'allow', owner: ref, uploader: await identityOf(credKey, owner, creds) };
  }

  async function decide(req: AccessRequest): Promise<Decision> {
    const started = performance.now();
    const trace: Trace = { cacheHit: false, forgeStatus: undefined, reason: undefined };
    const material = extractCredentials(req);
    const credKey = isAnonymous(material) ? 'anon' : keyOf(material);
    let decision: Decision;
    if (!isValidOwnerSegment(req.owner)) {
      decision = OWNER_UNKNOWN;
    } else if (canary !== 'passed') {
      // forge.md §5.5: without a passing canary a 404 from the forge proves nothing.
      trace.reason = 'canary has not passed';
      decision = UNAVAILABLE;
    } else {
      try {
        decision = await decideFor(req, material, credKey, trace);
      } catch (err) {
        if (err instanceof ForgeUnavailableError) trace.reason = err.message;
        else log.error({ err }, 'access decision failed'); // fail closed on our own bugs too
        decision = UNAVAILABLE;
      }
    }
    const fields = {
      owner: req.owner,
      mode: req.mode,
      result: decision.kind,
      forgeStatus: trace.forgeStatus,
      latencyMs: Math.round(performance.now() - started),
      cacheHit: trace.cacheHit,
      credential: describeCredentials(material),
      cred: credKey.slice(0, 8),
      reason: trace.reason,
    };
    if (decision.kind === 'unavailable') log.warn(fields, 'forge unavailable');
    else log.debug(fields, 'access decision');
    return decision;
  }

  async function checkVersion(): Promise<void> {
    try {
      const answer = await client.version();
      const version = parseJsonObject(answer.body)?.['version'];
      if (answer.status === 200 && typeof version === 'string') {
        versionChecked = true;
        log.info({ version }, 'forge reachable');
      } else {
        log.warn({ status: answer.status }, 'forge version check: unexpected answer');
      }
    } catch (err) {
      if (!(err instanceof ForgeUnavailableError)) throw err;
    }
  }

  async function checkServiceUser(): Promise<void> {
    let answer: ForgeAnswer;
    try {
      answer = await client.currentUser();
    } catch (err) {
      if (err instanceof ForgeUnavailableError) return;
      throw err;
    }
    if (answer.status === 401 || answer.status === 403) {
      throw new ConfigError(
        `FORGE_SERVICE_TOKEN: the forge answered ${answer.status} to GET api/v1/user`,
      );
    }
    const user = answer.status === 200 ? parseJsonObject(answer.body) : undefined;
    const login = user?.['login'];
    if (user === undefined || typeof login !== 'string' || login === '') {
      log.warn({ status: answer.status }, 'service token check: unexpected answer');
      return;
    }
    if (user['is_admin'] !== true) {
      throw new ConfigError(`FORGE_SERVICE_TOKEN: forge user ${login} is not a site admin`);
    }
    serviceLogin = login;
    log.info({ login }, 'service token accepted');
  }

  async function checkDiscovery(): Promise<void> {
    if (prefilter.state() !== 'pending') return;
    try {
      const answer = await client.discovery();
      const state = prefilter.configure(answer);
      if (state === 'pending') log.warn({ status: answer.status }, 'oauth2 discovery failed');
      else log.info({ state, algorithm: prefilter.algorithm() }, 'oauth2 pre-filter');
    } catch (err) {
      if (!(err instanceof ForgeUnavailableError)) throw err;
    }
  }

  async function runCanary(): Promise<void> {
    if (serviceLogin === undefined) return;
    let answer: ForgeAnswer;
    try {
      answer = await client.canary(serviceLogin);
    } catch (err) {
      if (err instanceof ForgeUnavailableError) return; // down is the breaker's business
      throw err;
    }
    if (answer.status >= 500) return;
    if (answer.status === 401 && answer.headers['www-authenticate'] === undefined) {
      if (canary !== 'passed') log.info('forge canary passed');
      canary = 'passed';
      return;
    }
    if (canary !== 'failed') {
      log.error(
        { status: answer.status },
        'forge canary failed: packages disabled on the forge, or FORGE_URL is not Forgejo',
      );
    }
    canary = 'failed';
  }

  function checkNow(): Promise<void> {
    checking ??= (async () => {
      try {
        await Promise.all([
          versionChecked ? undefined : checkVersion(),
          serviceLogin === undefined ? checkServiceUser() : undefined,
          checkDiscovery(),
        ]);
        await runCanary();
      } finally {
        checking = undefined;
      }
    })();
    return checking;
  }

  const settled = () =>
    versionChecked &&
    serviceLogin !== undefined &&
    prefilter.state() !== 'pending' &&
    canary === 'passed';

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(
      () => {
        checkNow().then(schedule, (err: unknown) => {
          if (!(err instanceof ConfigError)) {
            log.error({ err }, 'forge check failed');
            schedule();
            return;
          }
          // Background F2 found the token unusable: nothing will get better by retrying.
          log.fatal(err.message);
          stopped = true;
          opts.onFatal?.(err.message);
        });
      },
      settled() ? CANARY_INTERVAL_MS : CHECK_RETRY_MS,
    );
    timer.unref();
  }

  return {
    decide,
    checkNow,
    status: () => (canary === 'passed' && !client.breakerOpen() ? 'ok' : 'down'),
    async start() {
      stopped = false;
      try {
        await checkNow();
      } catch (err) {
        stopped = true;
        throw err;
      }
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      client.close();
    },
  };
}

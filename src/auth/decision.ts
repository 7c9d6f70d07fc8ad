/** What an access decision is about and what it yields (forge.md §4 "Rendering vs deciding"). */

export type Mode = 'read' | 'write';

/** A package owner as the forge knows it; all data is keyed by `id`. */
export interface OwnerRef {
  readonly id: number;
  readonly name: string;
}

/** Who uploaded, recorded on writes. `login` is informational and may be unknown. */
export interface Uploader {
  readonly id: number;
  readonly login: string | undefined;
}

export interface AccessRequest {
  /** The decoded owner path segment, as the client sent it. */
  readonly owner: string;
  readonly mode: Mode;
  /** Node's lower-cased request headers. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: URLSearchParams;
  /** Vieter routes honour `X-Api-Key` (pacman.md §5.1); no other route does. */
  readonly allowApiKeyHeader: boolean;
  /** Client address chain, forwarded on probes. */
  readonly forwardedFor: string | undefined;
}

export type Decision =
  | { readonly kind: 'allow'; readonly owner: OwnerRef; readonly uploader?: Uploader }
  /** A credential was presented and not accepted: bare 401. */
  | { readonly kind: 'badCredential' }
  | { readonly kind: 'ownerUnknown' }
  | { readonly kind: 'renamed'; readonly newOwner: string }
  /** Anonymous, or signed in without enough rights, or missing package scope: 401 + challenge. */
  | { readonly kind: 'denied' }
  /** `public-only` token on a private owner: 403. */
  | { readonly kind: 'publicOnly' }
  /** The forge cannot answer: 503, never allow. */
  | { readonly kind: 'unavailable' };

/** Decides access for one request. Forge mode asks Forgejo; standalone mode checks the admin key. */
export interface Authorizer {
  decide(req: AccessRequest): Promise<Decision>;
  /** For /readyz: reported, not gating. */
  status(): 'ok' | 'down' | 'standalone';
  /** Background startup checks and timers. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

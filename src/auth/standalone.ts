import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { findLocalOwnerId, saveLocalOwner } from '../db/owners.js';
import { findSetting, saveSetting, saveSettingIfAbsent } from '../db/settings.js';
import type { Logger } from '../log.js';
import type { AccessRequest, Authorizer, Decision } from './decision.js';

const KEY_SETTING = 'admin_api_key_sha256';
// Forgejo's user name rule, so that names stay valid when a forge is added later.
const OWNER_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** The secret a request presents: Basic password (any user), `token`, `Bearer`, or X-Api-Key. */
export function presentedSecret(req: AccessRequest): string | undefined | null {
  const auth = req.headers.authorization;
  const header = Array.isArray(auth) ? auth[0] : auth;
  if (header) {
    const [scheme = '', ...rest] = header.trim().split(/\s+/);
    const value = rest.join(' ');
    switch (scheme.toLowerCase()) {
      case 'basic': {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        return colon < 0 ? null : decoded.slice(colon + 1);
      }
      case 'token':
      case 'bearer':
        return value || null;
      default:
        return null; // present but unusable: a bad credential
    }
  }
  const apiKey = req.headers['x-api-key'];
  if (req.allowApiKeyHeader && apiKey) return Array.isArray(apiKey) ? apiKey[0] : apiKey;
  return undefined;
}

/**
 * Standalone mode: reads are anonymous, writes need the one admin key. The key comes from
 * STOWAGE_API_KEY or is generated at first start and printed once; only its hash is stored.
 */
export async function createStandaloneAuthorizer(opts: {
  db: Knex;
  apiKey: string | undefined;
  log: Logger;
  now?: () => number;
}): Promise<Authorizer> {
  const now = opts.now ?? Date.now;
  if (opts.apiKey) {
    await saveSetting(opts.db, KEY_SETTING, sha256(opts.apiKey).toString('hex'));
  } else if ((await findSetting(opts.db, KEY_SETTING)) === undefined) {
    const generated = randomBytes(20).toString('hex');
    const stored = await saveSettingIfAbsent(opts.db, KEY_SETTING, sha256(generated).toString('hex'));
    // Printed once, at the start that made it; racing replicas keep the first one written.
    if (stored === sha256(generated).toString('hex')) {
      opts.log.warn({ apiKey: generated }, 'generated the admin API key; it is shown only this once');
    }
  }
  const expected = Buffer.from((await findSetting(opts.db, KEY_SETTING)) ?? '', 'hex');

  return {
    async decide(req: AccessRequest): Promise<Decision> {
      const secret = presentedSecret(req);
      const isAdmin = typeof secret === 'string' && timingSafeEqual(sha256(secret), expected);
      if (secret !== undefined && !isAdmin) return { kind: 'badCredential' };
      if (!OWNER_NAME.test(req.owner)) return { kind: 'ownerUnknown' };
      const lowerName = req.owner.toLowerCase();
      if (req.mode === 'read') {
        const id = await findLocalOwnerId(opts.db, lowerName);
        return id === undefined ? { kind: 'ownerUnknown' } : { kind: 'allow', owner: { id, name: lowerName } };
      }
      if (!isAdmin) return { kind: 'denied' };
      const id = await saveLocalOwner(opts.db, lowerName, now());
      return { kind: 'allow', owner: { id, name: lowerName }, uploader: { id: 0, login: 'admin' } };
    },
    status: () => 'standalone',
    start: async () => {},
    stop: async () => {},
  };
}

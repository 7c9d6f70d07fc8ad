import type { Context } from 'koa';
import type { Config } from '../config.js';

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The base of every absolute URL Stowage writes (config snippets, redirects). PUBLIC_URL
 * (= Forgejo's ROOT_URL) always wins when set (deploy.md §1). Without it the default
 * `http://localhost:$PORT/` is only a guess, so behind a trusted proxy (TRUST_PROXY=true) the
 * scheme and host come from X-Forwarded-Proto/-Host (else Host), as the client used them.
 */
export function publicBaseUrl(
  ctx: Context,
  config: Pick<Config, 'publicUrl' | 'publicUrlSet' | 'trustProxy'>,
): URL {
  if (config.publicUrlSet || !config.trustProxy) return config.publicUrl;
  // Koa reads the X-Forwarded-* headers here only when the app trusts its proxy.
  const protocol = ctx.protocol === 'https' ? 'https' : 'http';
  const host = ctx.host;
  if (!HOST.test(host)) return config.publicUrl;
  return new URL(`${protocol}://${host}/`);
}

import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('needs no configuration: SQLite in ./data, standalone, port 8080', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, resolve('data'));
    assert.deepEqual(c.database, { client: 'sqlite', filename: join(resolve('data'), 'stowage.sqlite') });
    assert.equal(c.forge, undefined);
    assert.equal(c.publicUrl.href, 'http://localhost:8080/');
    assert.equal(c.maxUploadBytes, 2 * 1024 ** 3);
    assert.equal(c.migrateOnStart, true);
    assert.equal(c.appName, 'Forgejo: Beyond coding. We Forge.');
    assert.equal(loadConfig({ APP_NAME: 'Forgejo' }).appName, 'Forgejo');
    assert.ok(Object.isFrozen(c));
  });

  it('selects MySQL from a mysql:// URL', () => {
    const c = loadConfig({ DATABASE_URL: 'mysql://app:s%40cret@db.example:3307/stowage' });
    assert.deepEqual(c.database, {
      client: 'mysql',
      host: 'db.example',
      port: 3307,
      user: 'app',
      password: 's@cret',
      database: 'stowage',
      poolMax: 10,
    });
  });

  it('reads forge settings, with the forge.md §5.1 defaults', () => {
    const c = loadConfig({
      FORGE_URL: 'http://forgejo:3000',
      PUBLIC_URL: 'https://git.example.org',
      FORGE_SERVICE_TOKEN: 'x'.repeat(40),
    });
    assert.equal(c.forge?.url.href, 'http://forgejo:3000/');
    assert.equal(c.publicUrl.href, 'https://git.example.org/');
    assert.deepEqual(
      [c.forge?.timeoutMs, c.forge?.connectTimeoutMs, c.forge?.authCacheTtlS, c.forge?.authNegativeTtlS],
      [5000, 2000, 30, 5],
    );
    assert.deepEqual([c.forge?.ownerCacheTtlS, c.forge?.authCacheMaxEntries, c.forge?.oauthPrefilter], [60, 10000, 'auto']);
  });

  it('refuses bad values with one line each, naming the variable', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty', AUTH_CACHE_TTL_S: '600', LOG_LEVEL: 'loud' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const lines = err.message.split('\n');
        assert.equal(lines.length, 3);
        assert.match(lines[0]!, /^PORT: /);
        assert.match(lines[1]!, /^AUTH_CACHE_TTL_S: must be between 1 and 60$/);
        assert.match(lines[2]!, /^LOG_LEVEL: /);
        return true;
      },
    );
  });

  it('needs PUBLIC_URL and a service token once FORGE_URL is set', () => {
    assert.throws(() => loadConfig({ FORGE_URL: 'http://forgejo:3000/' }), /PUBLIC_URL: required[\s\S]*FORGE_SERVICE_TOKEN: required/);
  });

  it('refuses an unknown database scheme and the `any` default arch', () => {
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://x/y' }), /DATABASE_URL: only mysql/);
    assert.throws(() => loadConfig({ VIETER_DEFAULT_ARCH: 'any' }), /VIETER_DEFAULT_ARCH: must not be any/);
  });
});

import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { createApp } from './app.js';
import { createAccess } from './auth/access.js';
import type { Authorizer } from './auth/decision.js';
import { createForgeAuthorizer } from './auth/forge.js';
import { createStandaloneAuthorizer } from './auth/standalone.js';
import { FileBlobStore } from './blobs/file-store.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { MigrationLockTimeout, migrateToLatest, openDatabase, unlockMigrations } from './db/connect.js';
import { createSweeper, type Sweeper } from './indexes/sweep.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { AltService } from './formats/alt/service.js';
import { FreeBsdService } from './formats/freebsd/service.js';
import { DebianService } from './formats/debian/service.js';
import { AptlyService } from './formats/debian/aptly/service.js';
import { PacmanService } from './formats/pacman/service.js';
import { OwnerKeys } from './signing/owner-keys.js';
import { OwnerRsaKeys } from './signing/rsa.js';

/** A running Stowage: what tests and `main` hold on to. */
export interface Stowage {
  readonly url: string;
  readonly server: Server;
  readonly db: Knex;
  readonly blobs: FileBlobStore;
  readonly sweeper: Sweeper;
  readonly config: Config;
  /** SIGTERM behaviour: unready at once, then stop accepting, finish in-flight requests, close. */
  shutdown(): Promise<void>;
}

export interface BuildOptions {
  readonly log?: Logger;
  /** Injected clock (tests move time); Date.now by default. */
  readonly now?: () => number;
  /** What to do when the forge refuses the service token after start (default: exit). */
  readonly onFatal?: (message: string) => void;
}

/** Signing keys are encrypted with STOWAGE_KEY_SECRET, or a secret generated once in the data dir. */
async function keySecret(config: Config): Promise<string> {
  if (config.keySecret) return config.keySecret;
  const file = join(config.dataDir, 'key-secret');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const secret = randomBytes(32).toString('hex');
    await writeFile(file, `${secret}\n`, { flag: 'wx', mode: 0o600 }).catch(() => {});
    return (await readFile(file, 'utf8')).trim(); // a racing replica may have written first
  }
}

/** Composition root: builds every dependency from the config and starts listening. */
export async function startStowage(config: Config, options: BuildOptions = {}): Promise<Stowage> {
  const log = options.log ?? createLogger(config.logLevel);
  const now = options.now ?? Date.now;
  const metrics = createMetrics();
  const db = openDatabase(config.database);
  if (config.migrateOnStart) await migrateToLatest(db);

  const blobs = new FileBlobStore(config.dataDir);
  await blobs.init();
  const sweeper = createSweeper({ db, blobs, graceS: config.blobGraceS, log });
  await sweeper.atStart(config.database.client === 'sqlite');

  const authorizer: Authorizer = config.forge
    ? createForgeAuthorizer({
        config: config.forge,
        log,
        metrics,
        now,
        // A service token the forge refuses is a configuration error, found on a later retry.
        onFatal: options.onFatal ?? ((message) => {
          log.fatal(message);
          process.exitCode = 1;
          process.kill(process.pid, 'SIGTERM');
        }),
      })
    : await createStandaloneAuthorizer({ db, apiKey: config.apiKey, log, now });
  await authorizer.start();

  const ownerKeys = new OwnerKeys(db, await keySecret(config), now);
  const pacman = new PacmanService({
    db,
    blobs,
    ownerKeys,
    metrics,
    maxUploadBytes: config.maxUploadBytes,
    forgeHost: config.publicUrl.hostname,
    defaultVieterArch: config.vieterDefaultArch,
    now,
  });

  const alt = new AltService({
    db,
    blobs,
    metrics,
    maxUploadBytes: config.maxUploadBytes,
    appName: config.appName,
    now,
  });

  const freebsd = new FreeBsdService({
    db,
    blobs,
    rsaKeys: new OwnerRsaKeys(db, await keySecret(config), now),
    metrics,
    maxUploadBytes: config.maxUploadBytes,
    now,
  });

  const debian = new DebianService({
    db,
    blobs,
    ownerKeys,
    metrics,
    maxUploadBytes: config.maxUploadBytes,
    appName: config.appName,
    now,
  });
  const aptly = new AptlyService({ debian });
  // Unreferenced Debian packages and old by-hash history go after an hour (debian.md §2).
  const debianSweep = setInterval(() => {
    debian.sweep().catch((err: unknown) => log.error({ err }, 'debian sweep failed'));
  }, 10 * 60_000);
  debianSweep.unref();

  let draining = false;
  const app = createApp({
    config,
    db,
    blobs,
    authorizer,
    access: createAccess(authorizer, config.publicUrl),
    log,
    metrics,
    pacman,
    debian,
    aptly,
    freebsd,
    alt,
    draining: () => draining,
  });

  const handler = app.callback();
  const server = createServer(handler);
  // Expect: 100-continue is answered only after the access check (forge.md P6).
  server.on('checkContinue', handler);
  server.requestTimeout = 0; // big uploads take as long as they take; idle bodies time out
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000; // above every proxy's upstream idle timeout
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, mode: config.forge ? 'forge' : 'standalone', database: config.database.client }, 'listening');
  sweeper.start(10 * 60_000);

  return {
    url,
    server,
    db,
    blobs,
    sweeper,
    config,
    async shutdown() {
      draining = true;
      await new Promise((r) => setTimeout(r, config.shutdownDelayS * 1000));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), config.shutdownGraceS * 1000);
      await closed;
      clearTimeout(grace);
      sweeper.stop();
      clearInterval(debianSweep);
      await authorizer.stop();
      await db.destroy();
    },
  };
}

/**
 * deploy.md §6.4 `stowage migrate [--unlock] [--lock-timeout S]`, for Kubernetes Jobs and init
 * containers: 0 done, 2 timed out waiting for the named lock, 1 anything else.
 */
async function runMigrate(config: Config, log: Logger, args: readonly string[]): Promise<number> {
  const unlock = args.includes('--unlock');
  const timeoutArg = args[args.indexOf('--lock-timeout') + 1];
  const lockTimeoutS = args.includes('--lock-timeout') ? Number(timeoutArg) : 600;
  const unknown = args.filter((a, i) => a !== '--unlock' && a !== '--lock-timeout' && args[i - 1] !== '--lock-timeout');
  if (unknown.length || !Number.isInteger(lockTimeoutS) || lockTimeoutS < 0) {
    process.stderr.write('usage: stowage migrate [--unlock] [--lock-timeout SECONDS]\n');
    return 1;
  }
  const db = openDatabase(config.database);
  try {
    if (unlock) {
      const cleared = await unlockMigrations(db, lockTimeoutS);
      log.info({ cleared }, cleared ? 'cleared a stale migration lock' : 'the migration lock was free');
    } else {
      await migrateToLatest(db, lockTimeoutS);
      log.info('migrations are up to date');
    }
    return 0;
  } catch (err) {
    if (err instanceof MigrationLockTimeout) {
      log.error({ lockTimeoutS }, err.message);
      return 2;
    }
    log.error({ err }, 'migration failed');
    return 1;
  } finally {
    await db.destroy();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const line of err.message.split('\n')) process.stderr.write(`config: ${line}\n`);
    process.exit(1);
  }
  const log = createLogger(config.logLevel);
  const command = argv[0] ?? 'serve';
  if (command === 'migrate') process.exit(await runMigrate(config, log, argv.slice(1)));
  if (command !== 'serve') {
    process.stderr.write(`unknown command ${command}; use serve or migrate\n`);
    process.exit(1);
  }
  const stowage = await startStowage(config, { log }).catch((err: unknown) => {
    log.fatal({ err }, String(err instanceof Error ? err.message : err));
    process.exit(1);
  });
  const stop = () => {
    stowage.shutdown().then(
      () => process.exit(process.exitCode ?? 0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2));
}

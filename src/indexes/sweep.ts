import type { Knex } from 'knex';
import type { BlobStore } from '../blobs/store.js';
import { listUnreferencedBlobs, removeBlobIfUnreferenced } from '../db/blobs.js';
import type { Logger } from '../log.js';

/** Staging files of live uploads are rewritten constantly; an hour of silence means a crash. */
const STAGING_GRACE_MS = 3600_000;

export interface Sweeper {
  /** At start: staging leftovers (all of them when this process is the only one). */
  atStart(singleProcess: boolean): Promise<void>;
  /** Unreferenced blobs older than the grace period, then old staging files. */
  sweep(nowMs?: number): Promise<{ blobs: number; staging: number }>;
  start(intervalMs: number): void;
  stop(): void;
}

/** Safety net: blobs nothing references any more, and staging files nobody finished. */
export function createSweeper(opts: { db: Knex; blobs: BlobStore; graceS: number; log: Logger }): Sweeper {
  let timer: NodeJS.Timeout | undefined;
  const sweeper: Sweeper = {
    async atStart(singleProcess) {
      const removed = await opts.blobs.sweepStaging(singleProcess ? 0 : STAGING_GRACE_MS);
      if (removed) opts.log.info({ removed }, 'removed staging files left by an earlier run');
    },
    async sweep(nowMs = Date.now()) {
      const cutoff = nowMs - opts.graceS * 1000;
      let blobs = 0;
      for (const sha of await listUnreferencedBlobs(opts.db, cutoff)) {
        if (await removeBlobIfUnreferenced(opts.db, sha, cutoff, () => opts.blobs.remove(sha))) blobs++;
      }
      const staging = await opts.blobs.sweepStaging(STAGING_GRACE_MS);
      if (blobs || staging) opts.log.info({ blobs, staging }, 'swept unreferenced files');
      return { blobs, staging };
    },
    start(intervalMs) {
      timer = setInterval(() => {
        sweeper.sweep().catch((err: unknown) => opts.log.error({ err }, 'sweep failed'));
      }, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
  return sweeper;
}

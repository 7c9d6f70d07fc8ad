import assert from 'node:assert/strict';
import type { OwnerRef } from '../../src/auth/decision.js';
import { DebianService } from '../../src/formats/debian/service.js';
import { createMetrics } from '../../src/metrics.js';
import { OwnerKeys } from '../../src/signing/owner-keys.js';
import type { TestStowage } from './stowage.js';

/** A second DebianService on a test instance's database and blobs (full rebuilds, checks). */
export function debianServiceOf(s: TestStowage): DebianService {
  return new DebianService({
    db: s.db,
    blobs: s.instance.blobs,
    ownerKeys: new OwnerKeys(s.db, s.env.STOWAGE_KEY_SECRET!),
    metrics: createMetrics(),
    maxUploadBytes: s.instance.config.maxUploadBytes,
    appName: s.instance.config.appName,
  });
}

/** A standalone-mode owner as the database knows it. */
export async function ownerOf(s: TestStowage, name = 'alice'): Promise<OwnerRef> {
  const row = (await s.db('local_owners').where({ lower_name: name }).first('id')) as { id: number | string } | undefined;
  assert.ok(row, `owner ${name} exists`);
  return { id: Number(row.id), name };
}

/**
 * debian.md §5: a full rebuild of the tree from its rows gives the stored bytes, file for file.
 * Asserted after every scenario test.
 */
export async function assertRebuilds(s: TestStowage, prefix: string, distribution: string, owner = 'alice'): Promise<void> {
  const { stored, rebuilt } = await debianServiceOf(s).rebuildTreeFiles(await ownerOf(s, owner), prefix, distribution);
  assert.deepEqual([...stored.keys()].sort(), [...rebuilt.keys()].sort(), `files of ${prefix} ${distribution}`);
  for (const [path, bytes] of stored) {
    assert.ok(bytes.equals(rebuilt.get(path)!), `${prefix}/dists/${distribution}/${path} differs from a full rebuild`);
  }
}

/** How many Releases a tree has had (current and superseded): one per build. */
export async function buildCount(s: TestStowage, prefix: string, distribution: string): Promise<number> {
  const tree = (await s.db('deb_trees').where({ prefix, distribution }).first('id')) as { id: number } | undefined;
  if (!tree) return 0;
  const row = (await s.db('deb_tree_files').where({ tree_id: tree.id, path: 'Release' }).count({ n: '*' }).first()) as { n: number | string };
  return Number(row.n);
}

import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TEST_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Compares `actual` with the reviewed file `test/<relPath>` byte for byte; with UPDATE_GOLDEN=1
 * it rewrites the file instead, for review as a diff.
 */
export async function expectGolden(actual: string | Buffer, relPath: string): Promise<void> {
  const path = join(TEST_ROOT, relPath);
  const bytes = typeof actual === 'string' ? Buffer.from(actual, 'utf8') : actual;
  if (process.env.UPDATE_GOLDEN === '1') {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    return;
  }
  let expected: Buffer;
  try {
    expected = await readFile(path);
  } catch {
    assert.fail(`missing golden file test/${relPath}: run with UPDATE_GOLDEN=1 and review it`);
  }
  assert.equal(bytes.toString('utf8'), expected.toString('utf8'), `differs from test/${relPath}`);
  assert.ok(bytes.equals(expected), `differs from test/${relPath} in its bytes`);
}

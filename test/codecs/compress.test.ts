import assert from 'node:assert/strict';
import { compressBytes } from '../../src/codecs/compress.js';
import { requireTool, run } from '../helpers/tools.js';

describe('compressBytes', () => {
  const data = Buffer.from(Array.from({ length: 2000 }, (_, i) => `Package: p${i}\nVersion: 1.${i}\n\n`).join(''));

  for (const [kind, tool, pkg] of [
    ['xz', 'xz', 'xz-utils'],
    ['gz', 'gzip', 'gzip'],
  ] as const) {
    it(`writes ${kind} that ${tool} reads back, the same bytes every time`, async () => {
      requireTool(tool, pkg);
      const first = await compressBytes(kind, data);
      assert.deepEqual(await compressBytes(kind, data), first);
      assert.ok(first.length < data.length / 4);
      assert.deepEqual((await run(tool, ['-dc'], { input: first })).stdout, data);
      await run(tool, ['-t'], { input: first });
    });
  }

  it('writes gzip without a time stamp or file name', async () => {
    const gz = await compressBytes('gz', data);
    assert.deepEqual([...gz.subarray(3, 8)], [0, 0, 0, 0, 0]); // FLG and MTIME
  });
});

import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { gzipMember, gzipMemberSync } from '../../src/codecs/gzip.js';
import { requireTool, run } from '../helpers/tools.js';

describe('gzipMember', () => {
  it('writes one member with mtime 0 and no file name', async () => {
    const member = await gzipMember(Buffer.from('hello\n'));
    assert.deepEqual([...member.subarray(0, 4)], [0x1f, 0x8b, 8, 0]); // FLG 0: no FNAME
    assert.equal(member.readUInt32LE(4), 0);
    assert.equal(gunzipSync(member).toString(), 'hello\n');
  });

  it('is deterministic, and the sync form gives the same bytes', async () => {
    const data = Buffer.from('x'.repeat(10_000) + 'y');
    assert.deepEqual(await gzipMember(data), await gzipMember(data));
    assert.deepEqual(gzipMemberSync(data), await gzipMember(data));
  });

  it('gives members that gzip(1) reads as one stream when concatenated', async () => {
    requireTool('gzip', 'gzip');
    const joined = Buffer.concat([
      await gzipMember(Buffer.from('one\n')),
      await gzipMember(Buffer.from('two\n')),
    ]);
    await run('gzip', ['-t'], { input: joined });
    assert.equal((await run('gzip', ['-dc'], { input: joined })).stdout.toString(), 'one\ntwo\n');
  });
});

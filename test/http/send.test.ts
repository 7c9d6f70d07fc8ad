import assert from 'node:assert/strict';
import { parseRange } from '../../src/http/send.js';

describe('parseRange (pacman.md §7)', () => {
  it('reads the three single-range forms, clamping the end', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-500', 100), { start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=50-5000', 100), { start: 50, end: 99 });
    assert.deepEqual(parseRange('bytes=0-0', 100), { start: 0, end: 0 });
  });

  it('is unsatisfiable past the end or on an empty file', () => {
    assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
    assert.equal(parseRange('bytes=-1', 0), 'unsatisfiable');
  });

  it('ignores malformed and multi-range headers', () => {
    for (const h of ['bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=5-2', 'bytes=a-b']) {
      assert.equal(parseRange(h, 100), undefined, h);
    }
  });
});

import assert from 'node:assert/strict';
import { decodePublishSegment, isPublishPrefix, isTreeName, parsePublishPrefix, publishPath } from '../../../src/formats/debian/publish.js';
import { isHttpError } from '../../../src/errors.js';

describe('debian aptly publish names (debian.md §7.7.1)', () => {
  it('decodes URL segments: _ → /, __ → _, ___ → _/, empty → .', () => {
    const cases: Record<string, string> = {
      ppa_stable: 'ppa/stable',
      my__repo: 'my_repo',
      'a___b': 'a_/b',
      bookworm_updates: 'bookworm/updates',
      '': '.',
      ':.': ':.',
      '..': '.',
      '$x`': 'x',
      _x: 'x',
    };
    for (const [raw, want] of Object.entries(cases)) assert.equal(decodePublishSegment(raw), want, raw);
  });

  it('splits storage at the last colon: none is ours, any other a 400 (A1)', () => {
    assert.equal(parsePublishPrefix(':.'), '.');
    assert.equal(parsePublishPrefix('.'), '.');
    assert.equal(parsePublishPrefix('ppa/stable/'), 'ppa/stable');
    assert.equal(parsePublishPrefix(':'), '.');
    assert.throws(() => parsePublishPrefix('s3:bucket:x'), (e: unknown) => isHttpError(e) && e.message === 'unable to publish: unknown published storage format: s3:bucket');
  });

  it('checks prefixes and tree names (§1)', () => {
    assert.equal(isPublishPrefix('.'), true);
    assert.equal(isPublishPrefix('ppa/my_stable'), true);
    for (const bad of ['aptly', 'aptly/x', 'x/dists', 'pool', 'x/by-hash', 'x//y', '-x']) assert.equal(isPublishPrefix(bad), false, bad);
    assert.equal(isTreeName('bookworm/updates'), true);
    assert.equal(isTreeName(''), false);
    assert.equal(publishPath('.', 'bookworm'), './bookworm');
  });
});

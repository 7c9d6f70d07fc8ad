import assert from 'node:assert/strict';
import { compareVersions } from '../../../src/formats/debian/version.js';
import { requireTool, run } from '../../helpers/tools.js';

const PAIRS: readonly [string, string][] = [
  ['1.0~rc1', '1.0'],
  ['1.0', '1.0a'],
  ['1.0a', '1.0+b1'],
  ['1.0', '1.0-0'],
  ['1:0.1', '2.0'],
  ['0:1.0', '1.0'],
  ['1.2-3', '1.2-3+b1'],
  ['1.2-3+b1', '1.2-10'],
  ['2.0~~', '2.0~'],
  ['2.0~', '2.0'],
  ['1.0.0', '1.0'],
  ['1.001', '1.1'],
  ['10', '9'],
  ['1.0-1', '1.0-1~bpo1'],
  ['a', 'b'],
  ['1.0+', '1.0.'],
  ['1:1.0.0-1', '1:1.0.0-2'],
  ['99999999999999999999', '99999999999999999998'],
  ['0:1.0.1-te~st', '1.0.1-test'],
  ['1.0-2-3', '1.0-2-4'],
];

describe('debian compareVersions (dpkg order, debian.md §3.4)', () => {
  it('orders 1.0~rc1 < 1.0 < 1.0a < 1.0+b1', () => {
    const sorted = ['1.0+b1', '1.0', '1.0a', '1.0~rc1'].sort(compareVersions);
    assert.deepEqual(sorted, ['1.0~rc1', '1.0', '1.0a', '1.0+b1']);
  });

  it('treats an absent epoch as 0 and an absent revision as 0', () => {
    assert.equal(compareVersions('0:1.0', '1.0'), 0);
    assert.equal(compareVersions('1.0', '1.0-0'), 0);
  });

  it('agrees with dpkg --compare-versions on every pair, both ways', async () => {
    requireTool('dpkg', 'dpkg');
    const cases = PAIRS.flatMap(([a, b]) => [
      [a, b],
      [b, a],
      [a, a],
    ]);
    const dpkg = async (x: string, op: string, y: string) =>
      (await run('dpkg', ['--compare-versions', x, op, y], { allowFail: true })).code === 0;
    const theirs = await Promise.all(
      cases.map(async ([x, y]) => ((await dpkg(x!, 'lt', y!)) ? -1 : (await dpkg(x!, 'eq', y!)) ? 0 : 1)),
    );
    cases.forEach(([x, y], i) => assert.equal(compareVersions(x!, y!), theirs[i], `${x} vs ${y}`));
  });
});

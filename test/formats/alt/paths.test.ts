import assert from 'node:assert/strict';
import { isHttpError } from '../../../src/errors.js';
import { checkGroup, parseAltPath } from '../../../src/formats/alt/paths.js';
import { formatRepoConfig } from '../../../src/formats/alt/repo-config.js';

const parse = (path: string) => parseAltPath(path === '' ? [] : path.split('/'));

describe('alt path grammar (alt.md §1.1)', () => {
  const cases: [string, ReturnType<typeof parseAltPath>][] = [
    ['alt.repo', { kind: 'config', parts: ['alt'] }],
    ['el9/stable.repo', { kind: 'config', parts: ['el9', 'stable'] }],
    ['alt.repo/x86_64/base/release', { kind: 'index', group: '', arch: 'x86_64', name: 'release' }],
    ['el9/stable.repo/noarch/base/PKGLIST.classic', { kind: 'index', group: 'el9/stable', arch: 'noarch', name: 'PKGLIST.classic' }],
    ['p10.repo/x86_64/RPMS.classic/a-1-1.x86_64.rpm', { kind: 'package', group: 'p10', fileName: 'a-1-1.x86_64.rpm' }],
    ['p10.repo/anything/RPMS.other/a.rpm', { kind: 'package', group: 'p10', fileName: 'a.rpm' }],
    ['alt.repo/x/RPMS.classic/a%2Bb-1-1.x86_64.rpm', { kind: 'package', group: '', fileName: 'a+b-1-1.x86_64.rpm' }],
    ['alt.repo/x/RPMS.classic/a+b-1-1.x86_64.rpm', { kind: 'package', group: '', fileName: 'a+b-1-1.x86_64.rpm' }],
    ['upload', { kind: 'upload', group: '' }],
    ['alt/upload', { kind: 'upload', group: '' }],
    ['el9/stable/upload', { kind: 'upload', group: 'el9/stable' }],
    ['alt/x/upload', { kind: 'upload', group: 'alt/x' }],
    ['el9.repo/upload', { kind: 'none' }],
    ['.repo/x86_64/base/release', { kind: 'none' }],
    ['.repo', { kind: 'none' }],
    ['p10.repo/x86_64/RPMS.classic/a.txt', { kind: 'none' }],
    ['p10.repo/x86_64/base', { kind: 'none' }],
    ['p10.repo/x86_64/other/release', { kind: 'none' }],
    ['p10.repo/x86_64/base/release/more', { kind: 'none' }],
    ['p10//upload', { kind: 'none' }],
    ['', { kind: 'none' }],
    ['p10', { kind: 'none' }],
    ['a%2Fb/upload', { kind: 'none' }],
    ['bad%zz/upload', { kind: 'none' }],
  ];
  for (const [path, expected] of cases) {
    it(`reads alt/${path}`, () => assert.deepEqual(parse(path), expected));
  }
});

describe('alt upload groups (D20)', () => {
  const invalid = (group: string) => {
    try {
      checkGroup(group);
      return false;
    } catch (err) {
      return isHttpError(err) && err.status === 400 && err.message === 'invalid group';
    }
  };
  it('accepts the root and plain nested groups', () => {
    for (const g of ['', 'p10', 'el9/stable', 'a.b+c-d_e/9']) assert.equal(invalid(g), false, g);
  });
  it('refuses spaces, leading punctuation, .repo segments and names over 255 bytes', () => {
    for (const g of ['bad group', '.hidden', '-x', 'x/.y', 'a.repo', 'x/b.repo', 'é', 'a'.repeat(256)]) {
      assert.equal(invalid(g), true, g);
    }
    assert.equal(invalid('a'.repeat(255)), false);
  });
});

describe('alt .repo config (alt.md §2.1)', () => {
  const base = { owner: 'User2', appName: 'Forgejo', rootUrl: 'https://git.example.org/' };
  it('renders four lines without a trailing newline, parts literally', () => {
    assert.equal(
      formatRepoConfig({ ...base, parts: ['el9', 'stable'] }),
      '[gitea-user2-el9-stable]\nname=User2 - Forgejo - el9 - stable\n' +
        'baseurl=https://git.example.org/api/packages/User2/alt/el9/stable\nenabled=1',
    );
  });
  it('renders the root sentinel as the part alt', () => {
    assert.equal(
      formatRepoConfig({ ...base, owner: 'user2', parts: ['alt'] }),
      '[gitea-user2-alt]\nname=user2 - Forgejo - alt\nbaseurl=https://git.example.org/api/packages/user2/alt/alt\nenabled=1',
    );
  });
});

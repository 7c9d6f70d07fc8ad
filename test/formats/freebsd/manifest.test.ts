import assert from 'node:assert/strict';
import { formatEntry, packageFileName, parseManifest } from '../../../src/formats/freebsd/manifest.js';
import { expectGolden } from '../../helpers/golden.js';
import { HELLO_MANIFEST, fixtureManifest } from '../../helpers/freebsd-fixtures.js';

const SUM = 'ab'.repeat(32);
const text = (overrides: Record<string, unknown> = {}) => JSON.stringify(fixtureManifest({ manifest: overrides }));

/** The 400 a manifest gets, or undefined when it is accepted. */
function refusal(manifestText: string): string | undefined {
  try {
    parseManifest(manifestText);
    return undefined;
  } catch (err) {
    const e = err as Error & { status?: number };
    assert.equal(e.status, 400, e.message);
    return e.message;
  }
}

describe('freebsd parseManifest (freebsd.md §3.3, §3.4)', () => {
  it('keeps the spec example and computes the entry of §4.1', async () => {
    const m = parseManifest(text());
    assert.deepEqual([m.name, m.version, m.abi, m.abiKey.key, m.origin, m.comment], [
      'hello', '1.0_1', 'FreeBSD:14:amd64', 'freebsd:14:amd64', 'misc/hello', 'Hello',
    ]);
    assert.equal(packageFileName(m), 'hello-1.0_1.pkg');
    const entry = formatEntry(m, { sha256: SUM, size: 747 });
    await expectGolden(`${entry}\n`, 'formats/freebsd/golden/hello.entry');
    // The spec's own example line, with its placeholder filled in.
    assert.equal(
      entry,
      '{"name":"hello","origin":"misc/hello","version":"1.0_1","comment":"Hello","maintainer":"pkg@example.org","www":"https://example.org/hello","abi":"FreeBSD:14:amd64","arch":"freebsd:14:x86:64","prefix":"/usr/local","flatsize":26,"licenselogic":"single","licenses":["BSD2CLAUSE"],"desc":"Demo %c3%a9t%c3%a9 100%25","categories":["misc"],"annotations":{"FreeBSD_version":"1402000"},' +
        `"sum":"${SUM}","pkgsize":747,"path":"All/hello-1.0_1.pkg","repopath":"All/hello-1.0_1.pkg"}`,
    );
  });

  it('drops the file list and scripts, replaces computed keys, keeps unknown keys in place', () => {
    const m = parseManifest(
      JSON.stringify({
        ...HELLO_MANIFEST,
        files: { '/usr/local/bin/hello': '1$abc' },
        directories: {},
        dirs: [],
        config: ['/usr/local/etc/hello.conf'],
        scripts: { 'post-install': 'true' },
        lua_scripts: { 'post-install': ['x'] },
        sum: 'forged',
        pkgsize: '12',
        path: '/etc/passwd',
        repopath: 'x',
        x_custom: { nested: [1, 'two', null] },
        annotations: { FreeBSD_version: '1402000', repository: 'local', relocated: '/opt', flavor: 'nox11' },
      }),
    );
    const entry = JSON.parse(formatEntry(m, { sha256: SUM, size: 5 })) as Record<string, unknown>;
    for (const key of ['files', 'directories', 'dirs', 'config', 'scripts', 'lua_scripts']) assert.ok(!(key in entry), key);
    assert.deepEqual(Object.keys(entry).slice(-5), ['x_custom', 'sum', 'pkgsize', 'path', 'repopath']);
    assert.deepEqual([entry.sum, entry.pkgsize, entry.path, entry.repopath], [SUM, 5, 'All/hello-1.0_1.pkg', 'All/hello-1.0_1.pkg']);
    assert.deepEqual(entry.x_custom, { nested: [1, 'two', null] });
    assert.deepEqual(entry.annotations, { FreeBSD_version: '1402000', flavor: 'nox11' });
  });

  it('copies desc untouched: %-encoding and non-ASCII are never decoded', () => {
    for (const desc of ['100%25 %c3%a9', 'été', '%zz', 'line\nbreak']) {
      const entry = JSON.parse(formatEntry(parseManifest(text({ desc })), { sha256: SUM, size: 1 })) as { desc: string };
      assert.equal(entry.desc, desc);
    }
    assert.ok(!formatEntry(parseManifest(text({ desc: 'a\nb' })), { sha256: SUM, size: 1 }).includes('\n'));
  });

  it('keeps a __proto__ key as data', () => {
    const m = parseManifest(text().replace(/}$/, ',"__proto__":{"x":1}}'));
    assert.match(formatEntry(m, { sha256: SUM, size: 1 }), /"__proto__":\{"x":1\}/);
  });

  it('takes names and versions with + , _ . - and integers where pkg does', () => {
    for (const [name, version] of [['libsig++', '1.0_1,1'], ['p5-Foo_Bar', '2.3.4_5'], ['_x', 'a'], ['+x', '1.0.b+c']]) {
      const m = parseManifest(text({ name, version }));
      assert.equal(packageFileName(m), `${name}-${version}.pkg`);
    }
    const m = parseManifest(text({ name: 7, version: 2 }));
    assert.deepEqual([m.name, m.version], ['7', '2']);
  });

  const refused: [string, string, string][] = [
    ['not JSON', 'name: hello', 'invalid package: manifest is not JSON'],
    ['UCL', 'name = "hello";\nversion = "1.0";', 'invalid package: manifest is not JSON'],
    ['an array', '[]', 'invalid package: manifest is not JSON'],
    ['null', 'null', 'invalid package: manifest is not JSON'],
    ['a string', '"x"', 'invalid package: manifest is not JSON'],
  ];
  for (const [what, input, message] of refused) {
    it(`refuses ${what}: ${message}`, () => assert.equal(refusal(input), message));
  }

  for (const key of ['name', 'version', 'origin', 'prefix', 'comment', 'maintainer', 'www', 'desc', 'abi']) {
    it(`refuses a manifest without ${key}`, () => {
      assert.equal(refusal(text({ [key]: undefined })), `invalid package: ${key}: missing`);
    });
  }

  // freebsd.md §9.1: each known key wrong-typed, null, fractional.
  const wrong: [string, unknown][] = [
    ['name', 1.5], ['name', true], ['name', -1], ['version', 1.5], ['version', ['1']],
    ['origin', ''], ['origin', 5], ['prefix', ''], ['comment', 3], ['maintainer', {}], ['www', []], ['desc', 1],
    ['abi', 14], ['arch', 1], ['flatsize', 1.5], ['flatsize', -1], ['flatsize', '26'], ['flatsize', 2 ** 53],
    ['licenselogic', 'SINGLE'], ['licenselogic', 'multiple'], ['licenselogic', 1],
    ['licenses', 'BSD'], ['licenses', [1]], ['categories', [null]], ['provides', {}], ['requires', [{}]],
    ['conflicts', 'x'], ['shlibs_required', [1]], ['shlibs_required_ignore', 'x'], ['shlibs_provided', [true]],
    ['shlibs_provided_ignore', [1]], ['shlibs', 'libc.so.7'],
    ['users', 'www'], ['users', [1]], ['users', [{ www: 80 }]], ['groups', {}],
    ['deps', []], ['deps', { perl5: 'perl5' }], ['deps', { perl5: { version: '5.36' } }], ['deps', { perl5: { origin: 1 } }],
    ['deps', { perl5: { origin: 'lang/perl5', version: 1.5 } }], ['deps', { perl5: [{ version: '1' }] }],
    ['options', []], ['options', { DOCS: 'yes' }], ['options', { DOCS: 1 }],
    ['option_defaults', { DOCS: true }], ['option_descriptions', []],
    ['annotations', []], ['annotations', { flavor: 1 }],
    ['dep_formula', 1], ['vital', 'yes'], ['vital', 1],
    ['messages', [{ type: 'install' }]], ['messages', [{ message: 1 }]], ['messages', [{ message: 'x', type: 'upgrades' }]],
    ['messages', [{ message: 'x', minimum_version: 1 }]], ['messages', ['x']], ['messages', {}], ['messages', 1],
    ['message', [{}]], ['message', 2],
    ['x_big', 2 ** 60], ['x_inf', 'Infinity'],
  ];
  for (const [key, value] of wrong) {
    it(`refuses ${key} = ${JSON.stringify(value)}`, () => {
      const input = value === 'Infinity' ? text().replace(/}$/, `,"${key}":1e999}`) : text({ [key]: value });
      const message = refusal(input);
      assert.ok(message?.startsWith(`invalid package: ${key}: `), `${key}: ${message}`);
    });
  }

  it('refuses null for every known key, and takes it in unknown ones', () => {
    for (const key of ['name', 'flatsize', 'licenses', 'deps', 'annotations', 'vital', 'messages', 'arch']) {
      assert.equal(refusal(text({ [key]: null })), `invalid package: ${key}: must not be null`, key);
    }
    assert.equal(refusal(text({ x_unknown: null })), undefined);
    assert.equal(refusal(text({ files: null, scripts: null })), undefined, 'dropped keys are not checked');
  });

  it('takes every licenselogic pkg knows and the accepted value shapes', () => {
    for (const licenselogic of ['single', 'or', 'dual', 'and', 'multi']) assert.equal(refusal(text({ licenselogic })), undefined);
    const ok = {
      flatsize: 0,
      users: ['www', { www: '80' }],
      groups: [],
      deps: { perl5: { origin: 'lang/perl5', version: '5.36' }, libx: { origin: 'x/libx', version: 3 }, alt: [{ origin: 'a/b' }] },
      options: { DOCS: 'on', X11: 'off', NLS: true },
      option_defaults: { DOCS: 'on' },
      dep_formula: 'a | b',
      vital: false,
      messages: [{ message: 'hi' }, { message: 'up', type: 'upgrade', minimum_version: '1.0', maximum_version: '2.0' }],
      message: 'legacy',
      shlibs_required_ignore: ['libfoo.so.1'],
    };
    assert.equal(refusal(text(ok)), undefined);
    assert.equal(refusal(text({ messages: 'plain text' })), undefined);
  });

  it('refuses names and versions pkg would misread', () => {
    for (const name of ['-x', '.x', 'a b', 'a/b', 'é', 'a:b', '']) {
      assert.match(refusal(text({ name })) ?? '', /^invalid package: name: /, name);
    }
    for (const version of ['1.0-1', '1/2', '_1', '.1', '1 0', '']) {
      assert.match(refusal(text({ version })) ?? '', /^invalid package: version: /, version);
    }
    assert.match(refusal(text({ name: 'a'.repeat(256) })) ?? '', /^invalid package: name: longer than 255 bytes/);
  });

  it('checks FreeBSD_version against the ABI major (freebsd.md §2.4)', () => {
    const v = (FreeBSD_version: string, abi = 'FreeBSD:14:amd64') => refusal(text({ abi, annotations: { FreeBSD_version } }));
    assert.equal(v('1402000'), undefined);
    assert.equal(v('1499999'), undefined);
    assert.equal(v('1402000', 'FreeBSD:14:*'), undefined);
    assert.equal(v('1502000', '*'), undefined);
    assert.equal(v('1502000'), 'invalid package: annotations: FreeBSD_version 1502000 is not a FreeBSD 14 version');
    assert.equal(v('1302000', 'FreeBSD:14:*'), 'invalid package: annotations: FreeBSD_version 1302000 is not a FreeBSD 14 version');
    for (const bad of ['0', '-1', '14.2', '', ' 1402000', '2147483648', '99999999999', 'abc']) {
      assert.match(v(bad, '*') ?? '', /^invalid package: annotations: FreeBSD_version must be digits/, bad);
    }
    assert.equal(v('2147483647', '*'), undefined);
    assert.equal(refusal(text({ annotations: { FreeBSD_version: 1402000 } })), 'invalid package: annotations: must be an object of strings');
  });
});

import assert from 'node:assert/strict';
import { globMatch, matchesQuery, parseQuery, type QueryPackage } from '../../../src/formats/debian/query.js';
import { isHttpError } from '../../../src/errors.js';

const pkg = (name: string, version: string, architecture: string, fields: Record<string, string> = {}): QueryPackage => ({
  name,
  version,
  architecture,
  type: 'deb',
  source: fields.Source ?? '',
  fields: new Map(Object.entries({ Package: name, Version: version, Architecture: architecture, ...fields })),
});

const HELLO = pkg('hello', '1:2.0-1', 'amd64', { Section: 'utils', Provides: 'greeter (= 3.0), hi' });
const LIB = pkg('libfoo1', '1.2-3+b1', 'i386', { Source: 'foo (1.2-3)' });
const DATA = pkg('hello-data', '2.0', 'all');

const match = (q: string) => [HELLO, LIB, DATA].filter((p) => matchesQuery(parseQuery(q), p)).map((p) => p.name);

describe('debian aptly package queries (debian.md §7.5)', () => {
  it('parses aptly’s grammar: or, and, not, parentheses', () => {
    assert.deepEqual(match('hello | libfoo1'), ['hello', 'libfoo1']);
    assert.deepEqual(match('!hello, !libfoo1'), ['hello-data']);
    assert.deepEqual(match('(hello | hello-data), $Architecture (amd64)'), ['hello', 'hello-data']);
  });

  it('matches versions with every relation, `<` as `<=` and `>` as `>=`', () => {
    assert.deepEqual(match('hello (>= 1:2.0)'), ['hello']);
    assert.deepEqual(match('hello (>> 1:2.0-1)'), []);
    assert.deepEqual(match('hello (< 1:2.0-1)'), ['hello']);
    assert.deepEqual(match('hello (<< 1:2.0-1)'), []);
    assert.deepEqual(match('hello (1:2.0-1)'), ['hello']);
    assert.deepEqual(match('hello (% 1:2.*)'), ['hello']);
  });

  it('matches Provides, with and without a version', () => {
    assert.deepEqual(match('greeter'), ['hello']);
    assert.deepEqual(match('greeter (>= 3)'), ['hello']);
    assert.deepEqual(match('hi (= 1:2.0-1)'), ['hello']);
  });

  it('reads fields and pseudo-fields', () => {
    assert.deepEqual(match('Section'), ['hello']);
    assert.deepEqual(match('Section (utils)'), ['hello']);
    assert.deepEqual(match('$Source (foo)'), ['libfoo1']);
    assert.deepEqual(match('$Source (hello)'), ['hello']);
    assert.deepEqual(match('$SourceVersion (1.2-3)'), ['libfoo1']);
    assert.deepEqual(match('$Version (>= 2.0)'), ['hello', 'hello-data']);
    assert.deepEqual(match('$Architecture (i386)'), ['libfoo1', 'hello-data']);
    assert.deepEqual(match('$PackageType (deb)'), ['hello', 'libfoo1', 'hello-data']);
    assert.deepEqual(match('Name (% *data)'), ['hello-data']);
  });

  it('matches a name_version_arch reference exactly, and {arch} with `all` matching any', () => {
    assert.deepEqual(match('libfoo1_1.2-3+b1_i386'), ['libfoo1']);
    assert.deepEqual(match('hello-data {i386}'), ['hello-data']);
    assert.deepEqual(match('hello {i386}'), []);
  });

  it('reads quoted words with escapes', () => {
    assert.deepEqual(match('Section ("utils")'), ['hello']);
    assert.deepEqual(match("Section ('ut\\ils')"), ['hello']);
  });

  it('answers 400 to syntax errors and to regexps (A11)', () => {
    for (const [q, message] of [
      ['', 'parsing failed: unexpected token <EOL>: expecting field or package name'],
      ['a b', 'parsing failed: unexpected token "b": expecting end of query'],
      ['a (>= 1', "parsing failed: unexpected token <EOL>: expecting ')'"],
      ['a {amd64', "parsing failed: unexpected token <EOL>: expecting '}'"],
      ['"open', 'parsing failed: unexpected eof in quoted string'],
      ['Name (~ a.*)', 'regexp queries are not supported'],
    ]) {
      assert.throws(() => parseQuery(q!), (err: unknown) => isHttpError(err) && err.status === 400 && err.message === message, q);
    }
  });

  it('globs like Go’s filepath.Match', () => {
    assert.equal(globMatch('a*c', 'abbc'), true);
    assert.equal(globMatch('a?c', 'abc'), true);
    assert.equal(globMatch('a[b-d]c', 'acc'), true);
    assert.equal(globMatch('a[^b]c', 'abc'), false);
    assert.equal(globMatch('a.c', 'abc'), false);
  });
});

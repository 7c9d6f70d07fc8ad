import { badRequest } from '../../errors.js';
import { compareVersions } from './version.js';

/** What a query can see of a package (aptly's PackageLike). */
export interface QueryPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly type: 'deb' | 'udeb';
  /** `Source` as written, or `''`. */
  readonly source: string;
  /** Stored control fields (canonical names). */
  readonly fields: ReadonlyMap<string, string>;
}

type Relation = 'any' | '<<' | '<=' | '>>' | '>=' | '=' | '%';

/** A parsed aptly package query (debian.md §7.5). */
export type PackageQuery =
  | { readonly kind: 'or' | 'and'; readonly left: PackageQuery; readonly right: PackageQuery }
  | { readonly kind: 'not'; readonly query: PackageQuery }
  | { readonly kind: 'field'; readonly field: string; readonly relation: Relation; readonly value: string }
  | { readonly kind: 'ref'; readonly name: string; readonly version: string; readonly architecture: string }
  | { readonly kind: 'dependency'; readonly name: string; readonly relation: Relation; readonly value: string; readonly architecture: string };

type TokenType = '(' | ')' | '{' | '}' | '|' | ',' | '!' | 'op' | 'string' | 'eof';
interface Token {
  readonly type: TokenType;
  readonly value: string;
}

const SPACE = /\s/u;

/** aptly's lexer: `(` does not end a word (its stop set is checked from index 1). */
function lex(input: string): Token[] {
  const tokens: Token[] = [];
  const chars = [...input];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i]!;
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    if ('(){}|,!'.includes(c)) {
      tokens.push({ type: c as TokenType, value: c });
      i++;
      continue;
    }
    if (c === '<' || c === '>') {
      const next = chars[i + 1];
      if (next === c) {
        tokens.push({ type: 'op', value: c === '<' ? '<<' : '>>' });
        i += 2;
      } else {
        tokens.push({ type: 'op', value: c === '<' ? '<=' : '>=' });
        i += next === '=' ? 2 : 1;
      }
      continue;
    }
    if (c === '=' || c === '%' || c === '~') {
      tokens.push({ type: 'op', value: c });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= chars.length) throw badRequest('parsing failed: unexpected eof in quoted string');
        let r = chars[i]!;
        if (r === c) {
          i++;
          break;
        }
        if (r === '\\') {
          i++;
          if (i >= chars.length) throw badRequest('parsing failed: unexpected eof in quoted string');
          r = chars[i]!;
        }
        value += r;
        i++;
      }
      tokens.push({ type: 'string', value });
      continue;
    }
    let value = '';
    while (i < chars.length && !SPACE.test(chars[i]!) && !')|,!{}'.includes(chars[i]!)) value += chars[i++]!;
    tokens.push({ type: 'string', value });
  }
  tokens.push({ type: 'eof', value: '<EOL>' });
  return tokens;
}

const show = (t: Token) => (t.type === 'string' ? JSON.stringify(t.value) : t.value);

/** Parses aptly's query syntax; `~` (regexp) is refused (A11). */
export function parseQuery(input: string): PackageQuery {
  const tokens = lex(input);
  let at = 0;
  const current = () => tokens[at]!;
  const fail = (why: string): never => {
    throw badRequest(`parsing failed: ${why}`);
  };
  const query = (): PackageQuery => {
    const left = and();
    if (current().type === '|') {
      at++;
      return { kind: 'or', left, right: query() };
    }
    return left;
  };
  const and = (): PackageQuery => {
    const left = not();
    if (current().type === ',') {
      at++;
      return { kind: 'and', left, right: and() };
    }
    return left;
  };
  const not = (): PackageQuery => {
    if (current().type === '!') {
      at++;
      return { kind: 'not', query: not() };
    }
    if (current().type === '(') {
      at++;
      const inner = query();
      if (current().type !== ')') fail(`unexpected token ${show(current())}: expecting ')'`);
      at++;
      return inner;
    }
    return term();
  };
  const condition = (): { relation: Relation; value: string } => {
    if (current().type !== '(') return { relation: 'any', value: '' };
    at++;
    let relation: Relation = '=';
    if (current().type === 'op') {
      if (current().value === '~') throw badRequest('regexp queries are not supported');
      relation = current().value as Relation;
      at++;
    }
    if (current().type !== 'string') fail(`unexpected token ${show(current())}: expecting value`);
    const value = current().value;
    at++;
    if (current().type !== ')') fail(`unexpected token ${show(current())}: expecting ')'`);
    at++;
    return { relation, value };
  };
  const term = (): PackageQuery => {
    if (current().type !== 'string') fail(`unexpected token ${show(current())}: expecting field or package name`);
    const word = current().value;
    at++;
    const { relation, value } = condition();
    const first = word.codePointAt(0) ?? 0;
    const upper = String.fromCodePoint(first) !== String.fromCodePoint(first).toLowerCase();
    if (word.startsWith('$') || (upper && !word.includes('_'))) return { kind: 'field', field: word, relation, value };
    if (relation === 'any' && value === '') {
      const i = word.indexOf('_');
      const j = word.lastIndexOf('_');
      if (i >= 0 && j > i) return { kind: 'ref', name: word.slice(0, i), version: word.slice(i + 1, j), architecture: word.slice(j + 1) };
    }
    let architecture = '';
    if (current().type === '{') {
      at++;
      if (current().type !== 'string') fail(`unexpected token ${show(current())}: expecting architecture`);
      architecture = current().value;
      at++;
      if (current().type !== '}') fail(`unexpected token ${show(current())}: expecting '}'`);
      at++;
    }
    return { kind: 'dependency', name: word, relation, value, architecture };
  };
  const q = query();
  if (current().type !== 'eof') fail(`unexpected token ${show(current())}: expecting end of query`);
  return q;
}

/** Go's filepath.Match: `*`, `?`, `[…]` (with `^`/`!` negation and ranges). */
export function globMatch(pattern: string, text: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]!}`;
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  try {
    return new RegExp(`${re}$`, 'u').test(text);
  } catch {
    return false;
  }
}

function satisfies(version: string, relation: Relation, value: string): boolean {
  switch (relation) {
    case 'any':
      return true;
    case '%':
      return globMatch(value, version);
    default: {
      const r = compareVersions(version, value);
      return relation === '=' ? r === 0 : relation === '<<' ? r < 0 : relation === '<=' ? r <= 0 : relation === '>>' ? r > 0 : r >= 0;
    }
  }
}

const matchesArchitecture = (p: QueryPackage, arch: string) => (p.architecture === 'all' && arch !== 'source') || p.architecture === arch;

function provides(p: QueryPackage, name: string, relation: Relation, value: string): boolean {
  const list = p.fields.get('Provides');
  if (!list) return false;
  return list.split(',').some((entry) => {
    const m = /^\s*(\S+?)\s*(?:\(\s*(=)?\s*([^)\s]+)\s*\))?\s*$/.exec(entry);
    if (!m || m[1] !== name) return false;
    return satisfies(m[3] ?? p.version, relation, value);
  });
}

/** aptly's GetField, with `$` pseudo-fields. */
function fieldOf(p: QueryPackage, field: string): string {
  switch (field) {
    case '$Source': {
      if (p.source === '') return p.name;
      const paren = p.source.indexOf('(');
      return (paren >= 0 ? p.source.slice(0, paren) : p.source).trim();
    }
    case '$SourceVersion': {
      const m = /\(([^)]*)\)/.exec(p.source);
      return m ? m[1]!.trim() : p.version;
    }
    case '$Architecture':
    case 'Architecture':
      return p.architecture;
    case '$PackageType':
      return p.type;
    case 'Name':
      return p.name;
    case 'Version':
      return p.version;
    case 'Source':
      return p.source;
    default:
      return p.fields.get(field) ?? '';
  }
}

/** Whether a package matches a parsed query (aptly's Matches). */
export function matchesQuery(q: PackageQuery, p: QueryPackage): boolean {
  switch (q.kind) {
    case 'or':
      return matchesQuery(q.left, p) || matchesQuery(q.right, p);
    case 'and':
      return matchesQuery(q.left, p) && matchesQuery(q.right, p);
    case 'not':
      return !matchesQuery(q.query, p);
    case 'ref':
      return p.name === q.name && p.version === q.version && p.architecture === q.architecture;
    case 'dependency':
      if (q.architecture !== '' && !matchesArchitecture(p, q.architecture)) return false;
      if (provides(p, q.name, q.relation, q.value)) return true;
      return p.name === q.name && satisfies(p.version, q.relation, q.value);
    case 'field': {
      if (q.field === '$Version') return satisfies(p.version, q.relation, q.value);
      if (q.field === '$Architecture' && q.relation === '=') return matchesArchitecture(p, q.value);
      const value = fieldOf(p, q.field);
      if (q.relation === 'any') return value !== '';
      if (q.relation === '%') return globMatch(q.value, value);
      return satisfies(value, q.relation, q.value);
    }
  }
}

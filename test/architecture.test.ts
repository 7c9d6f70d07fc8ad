import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// STYLE.md §3: the import rules, checked on every file of src/.
const SRC = resolve('src');

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  readonly spec: string;
  readonly typeOnly: boolean;
  /** Resolved path inside src/ for relative imports, e.g. `db/locks.ts`. */
  readonly target: string | undefined;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)) {
    const spec = m[3]!;
    const target = spec.startsWith('.')
      ? relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts')
      : undefined;
    out.push({ spec, typeOnly: Boolean(m[2]), target });
  }
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false, target: undefined });
  return out;
}

const files = listFiles(SRC).map((path) => ({ path, rel: relative(SRC, path), imports: importsOf(path) }));
const formatOf = (rel: string) => /^formats\/([^/]+)\//.exec(rel)?.[1];
const isService = (rel: string) => /^formats\/[^/]+\/(.+\/)?service\.ts$/.test(rel);
const isRoutes = (rel: string) => /^formats\/[^/]+\/(.+\/)?[a-z-]*routes\.ts$/.test(rel);
const isPure = (rel: string) => formatOf(rel) !== undefined && !isService(rel) && !isRoutes(rel) && !rel.endsWith('README.md');

const PURE_PACKAGES = new Set(['node:stream', 'node:stream/promises', 'node:zlib', 'node:crypto', 'node:buffer', 'tar-stream']);

describe('architecture (STYLE.md §3)', () => {
  it('finds the source files it checks', () => {
    assert.ok(files.some((f) => f.rel === 'app.ts'));
    assert.ok(files.some((f) => isPure(f.rel)), 'no pure format file found');
    assert.ok(files.some((f) => isService(f.rel)) && files.some((f) => isRoutes(f.rel)));
  });

  it('keeps pure format files free of HTTP, database and disk', () => {
    const bad = files
      .filter((f) => isPure(f.rel))
      .flatMap((f) =>
        f.imports
          .filter((i) => {
            if (i.target === undefined) return !PURE_PACKAGES.has(i.spec);
            const sameFolder = dirname(i.target) === dirname(f.rel);
            return !(sameFolder || i.target.startsWith('codecs/') || i.target === 'errors.ts');
          })
          .map((i) => `${f.rel} → ${i.spec}`),
      );
    assert.deepEqual(bad, []);
  });

  it('keeps services away from Koa, HTTP and permission checks', () => {
    const bad = files
      .filter((f) => isService(f.rel))
      .flatMap((f) =>
        f.imports
          .filter(
            (i) =>
              i.spec === 'koa' ||
              i.spec.startsWith('@koa/') ||
              i.target?.startsWith('http/') ||
              (i.target?.startsWith('auth/') && !(i.typeOnly && i.target === 'auth/decision.ts')),
          )
          .map((i) => `${f.rel} → ${i.spec}`),
      );
    assert.deepEqual(bad, []);
  });

  it('keeps routes away from the database, blobs and knex', () => {
    const bad = files
      .filter((f) => isRoutes(f.rel))
      .flatMap((f) =>
        f.imports
          .filter(
            (i) =>
              i.spec === 'knex' ||
              ['db/', 'blobs/', 'indexes/', 'signing/'].some((p) => i.target?.startsWith(p)),
          )
          .map((i) => `${f.rel} → ${i.spec}`),
      );
    assert.deepEqual(bad, []);
  });

  it('never lets a shared layer import a format, nor a format another format', () => {
    const bad = files.flatMap((f) =>
      f.imports
        .filter((i) => {
          const to = i.target && formatOf(i.target);
          if (!to) return false;
          const from = formatOf(f.rel);
          if (from === undefined) return f.rel !== 'app.ts' && f.rel !== 'main.ts';
          return from !== to;
        })
        .map((i) => `${f.rel} → ${i.spec}`),
    );
    assert.deepEqual(bad, []);
  });

  it('reads process.env only in main.ts', () => {
    const bad = files.filter((f) => f.rel !== 'main.ts' && /process\.env/.test(readFileSync(f.path, 'utf8')));
    assert.deepEqual(
      bad.map((f) => f.rel),
      [],
    );
  });

  it('never writes to the console', () => {
    const bad = files.filter((f) => /console\.(log|error|warn|info)/.test(readFileSync(f.path, 'utf8')));
    assert.deepEqual(
      bad.map((f) => f.rel),
      [],
    );
  });
});

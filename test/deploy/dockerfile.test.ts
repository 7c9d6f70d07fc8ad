import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

// No container runtime in CI: the Dockerfile's promises are checked against the sources.
const dockerfile = readFileSync(resolve('Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('Dockerfile (deploy.md §6.3)', () => {
  it('builds in stages and installs production dependencies only, from the lock file', () => {
    assert.ok(lines.filter((l) => /^FROM /.test(l)).length >= 2, 'multi-stage');
    assert.ok(lines.some((l) => /npm ci --omit=dev/.test(l)));
    assert.ok(!lines.some((l) => /npm (install|i) /.test(l)));
  });

  it('runs as the numeric non-root user 10001, with the data dir it owns', () => {
    const users = lines.filter((l) => /^USER /.test(l));
    assert.equal(users.at(-1), 'USER 10001:10001');
    assert.ok(lines.some((l) => /chown 10001:10001 \/data/.test(l)));
  });

  it('copies only paths that exist, and .dockerignore keeps them in', () => {
    const ignored = readFileSync(resolve('.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const line of lines.filter((l) => /^COPY (?!--from)/.test(l))) {
      for (const src of line.split(/\s+/).slice(1, -1)) {
        assert.ok(existsSync(resolve(src)), src);
        assert.ok(!ignored.includes(src), `${src} is in .dockerignore`);
      }
    }
  });

  it('finds every package src/ and migrations/ import among the production dependencies', () => {
    const missing = new Set<string>();
    for (const file of [...sourceFiles(resolve('src')), ...sourceFiles(resolve('migrations'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^'";]*?from\s+'([^'.][^']*)'/gm)) {
        if (m[1]) continue; // type-only imports vanish at run time
        const spec = m[2]!;
        if (spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!pkg.dependencies[name]) missing.add(`${name} (${file})`);
      }
    }
    assert.deepEqual([...missing], []);
    // The image runs TypeScript through tsx: it must survive --omit=dev.
    assert.ok(pkg.dependencies['tsx']);
    assert.ok(lines.some((l) => /node --import tsx \/app\/src\/main\.ts/.test(l)));
  });
});

import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, requireTool, run } from './tools.js';

/** A tiny spec file's contents (alt.md §13); everything has a default. */
export interface RpmFixtureOptions {
  readonly name: string;
  readonly version?: string;
  readonly release?: string;
  readonly epoch?: number;
  /** `noarch` writes `BuildArch: noarch`; anything else is rpmbuild's `--target`. */
  readonly arch?: string;
  readonly summary?: string;
  readonly description?: string;
  readonly license?: string;
  readonly url?: string;
  readonly group?: string;
  readonly packager?: string;
  /** Dependency lines as a spec writes them: `name`, `name >= 1.0`. */
  readonly provides?: readonly string[];
  readonly requires?: readonly string[];
  readonly conflicts?: readonly string[];
  readonly obsoletes?: readonly string[];
  /** Payload: absolute path → content. Default: `/usr/bin/{name}`, a shell script. */
  readonly files?: Readonly<Record<string, string>>;
  /** `%dir` entries (created empty). */
  readonly dirs?: readonly string[];
  /** `%ghost` entries (not in the payload). */
  readonly ghosts?: readonly string[];
  /** Paths of `files` marked `%config`. */
  readonly configs?: readonly string[];
  /** `%changelog` entries, newest first; `date` as `Tue Nov 14 2023`. */
  readonly changelog?: readonly { readonly date: string; readonly author: string; readonly text: string }[];
  /** `rpmbuild -bs`: a source package. */
  readonly source?: boolean;
}

export interface RpmFixture {
  readonly path: string;
  /** What Stowage stores it as: `{n}-[{e}-]{v}-{r}.{a}.rpm` (alt.md §3.5). */
  readonly fileName: string;
  readonly bytes: Buffer<ArrayBuffer>;
  readonly options: RpmFixtureOptions;
}

const BUILD_TIME_S = 1700000000;
const built = new Map<string, Promise<RpmFixture>>();

/** The stored file name Stowage gives a fixture. */
export function altFileNameOf(o: RpmFixtureOptions): string {
  const epoch = o.epoch ? `${o.epoch}-` : '';
  return `${o.name}-${epoch}${o.version ?? '1.0'}-${o.release ?? '1'}.${o.arch ?? 'x86_64'}.rpm`;
}

function specText(o: RpmFixtureOptions, sources: readonly [string, string][]): string {
  const lines = [
    `Name: ${o.name}`,
    `Version: ${o.version ?? '1.0'}`,
    `Release: ${o.release ?? '1'}`,
    ...(o.epoch === undefined ? [] : [`Epoch: ${o.epoch}`]),
    `Summary: ${o.summary ?? `The ${o.name} fixture`}`,
    `License: ${o.license ?? 'MIT'}`,
    ...(o.url === undefined ? [] : [`URL: ${o.url}`]),
    ...(o.group === undefined ? [] : [`Group: ${o.group}`]),
    ...(o.packager === undefined ? [] : [`Packager: ${o.packager}`]),
    ...(o.arch === 'noarch' ? ['BuildArch: noarch'] : []),
    ...(o.provides ?? []).map((d) => `Provides: ${d}`),
    ...(o.requires ?? []).map((d) => `Requires: ${d}`),
    ...(o.conflicts ?? []).map((d) => `Conflicts: ${d}`),
    ...(o.obsoletes ?? []).map((d) => `Obsoletes: ${d}`),
    '',
    '%description',
    o.description ?? `The ${o.name} fixture, built by the tests.`,
    '',
    '%install',
    ...sources.map(([path, source]) => {
      const mode = path.includes('/bin/') ? '0755' : '0644';
      return `install -D -m ${mode} %{_sourcedir}/${source} %{buildroot}${path}`;
    }),
    ...(o.dirs ?? []).map((d) => `mkdir -p %{buildroot}${d}`),
    '',
    '%files',
    ...sources.map(([path]) => ((o.configs ?? []).includes(path) ? `%config ${path}` : path)),
    ...(o.dirs ?? []).map((d) => `%dir ${d}`),
    ...(o.ghosts ?? []).map((g) => `%ghost ${g}`),
  ];
  if (o.changelog?.length) {
    lines.push('', '%changelog');
    for (const c of o.changelog) lines.push(`* ${c.date} ${c.author}`, c.text, '');
  }
  return `${lines.join('\n')}\n`;
}

async function build(o: RpmFixtureOptions): Promise<RpmFixture> {
  requireTool('rpmbuild', 'rpm');
  const top = await makeTempDir('rpm-fixture');
  const files = o.files ?? { [`/usr/bin/${o.name}`]: `#!/bin/sh\necho ${o.name}\n` };
  const sources = Object.keys(files).map((path, i) => [path, `file${i}`] as [string, string]);
  await mkdir(join(top, 'SOURCES'), { recursive: true });
  for (const [path, source] of sources) await writeFile(join(top, 'SOURCES', source), files[path]!);
  const spec = join(top, `${o.name}.spec`);
  await writeFile(spec, specText(o, sources));
  const target = o.arch === undefined || o.arch === 'noarch' ? 'x86_64' : o.arch;
  await run(
    'rpmbuild',
    [
      o.source ? '-bs' : '-bb',
      ...(o.source ? [] : ['--target', target]),
      '--define',
      `_topdir ${top}`,
      '--define',
      'use_source_date_epoch_as_buildtime 1',
      '--define',
      'clamp_mtime_to_source_date_epoch 1',
      '--define',
      '_buildhost fixture',
      spec,
    ],
    { env: { SOURCE_DATE_EPOCH: String(BUILD_TIME_S) } },
  );
  const dir = join(top, o.source ? 'SRPMS' : join('RPMS', o.arch ?? 'x86_64'));
  const [name] = await readdir(dir);
  if (!name) throw new Error(`rpmbuild wrote no package to ${dir}`);
  const path = join(dir, name);
  return { path, fileName: altFileNameOf(o), bytes: await readFile(path), options: o };
}

/** Builds (once per process for the same options) a package with rpmbuild, reproducibly. */
export function buildRpm(options: RpmFixtureOptions): Promise<RpmFixture> {
  const key = JSON.stringify(options);
  let fixture = built.get(key);
  if (!fixture) {
    fixture = build(options);
    fixture.catch(() => built.delete(key));
    built.set(key, fixture);
  }
  return fixture;
}

/**
 * `count` small x86_64 packages `{prefix}-{i}` from one rpmbuild run (one spec, one
 * subpackage each): for tests that need many distinct uploads.
 */
export async function buildRpmSet(prefix: string, count: number): Promise<RpmFixture[]> {
  requireTool('rpmbuild', 'rpm');
  const top = await makeTempDir('rpm-set');
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
  const spec = [
    `Name: ${prefix}`,
    'Version: 1.0',
    'Release: 1',
    `Summary: The ${prefix} set`,
    'License: MIT',
    '',
    '%description',
    `The ${prefix} set.`,
    '',
    ...names.flatMap((n) => [`%package -n ${n}`, `Summary: ${n}`, '', `%description -n ${n}`, `${n}.`, '']),
    '%install',
    ...names.map((n) => `mkdir -p %{buildroot}/usr/share/${n} && echo ${n} > %{buildroot}/usr/share/${n}/name`),
    '',
    ...names.flatMap((n) => [`%files -n ${n}`, `/usr/share/${n}/name`, '']),
  ].join('\n');
  const specPath = join(top, `${prefix}.spec`);
  await writeFile(specPath, spec);
  await run('rpmbuild', ['-bb', '--target', 'x86_64', '--define', `_topdir ${top}`, '--define', '_buildhost fixture', specPath], {
    env: { SOURCE_DATE_EPOCH: String(BUILD_TIME_S) },
  });
  return Promise.all(
    names.map(async (name) => {
      const path = join(top, 'RPMS', 'x86_64', `${name}-1.0-1.x86_64.rpm`);
      return { path, fileName: `${name}-1.0-1.x86_64.rpm`, bytes: await readFile(path), options: { name } };
    }),
  );
}

/** `rpm -qp --qf FORMAT file`: the package as librpm reads it. */
export async function rpmQuery(path: string, format: string): Promise<string> {
  requireTool('rpm', 'rpm');
  return (await run('rpm', ['-qp', '--qf', format, path])).stdout.toString('utf8');
}

/** Fixture RPMs that exercise every optional part of an entry. */
export const FIXTURES = {
  /** x86_64, epoch 2, every dependency kind, %dir, %ghost, %config, a changelog. */
  full: {
    name: 'hello',
    version: '1.0',
    release: 'alt1',
    epoch: 2,
    summary: 'A friendly greeter',
    description: 'Says hello.\nTwice, on two lines.',
    license: 'GPL-2.0-or-later',
    url: 'https://example.org/hello',
    group: 'Development/Tools',
    packager: 'Alice <alice@example.org>',
    provides: ['greeter = 1.0', 'hello-bin'],
    requires: ['coreutils >= 8.0', 'bash'],
    conflicts: ['hello-old < 1.0'],
    obsoletes: ['hello-legacy <= 0.9'],
    files: { '/usr/bin/hello': '#!/bin/sh\necho hello\n', '/etc/hello/hello.conf': 'greeting=hello\n' },
    dirs: ['/etc/hello', '/usr/share/hello'],
    ghosts: ['/var/log/hello.log'],
    configs: ['/etc/hello/hello.conf'],
    changelog: [
      { date: 'Tue Nov 14 2023', author: 'Alice <alice@example.org> - 2:1.0-alt1', text: '- Greets twice.' },
      { date: 'Mon Nov 13 2023', author: 'Bob <bob@example.org> - 0.9-alt1', text: '- First release.' },
    ],
  },
  /** noarch, no epoch, nothing optional but the default file. */
  noarch: { name: 'greet-data', version: '0.3', release: '2', arch: 'noarch', files: { '/usr/share/greet/words': 'hi\n' } },
  /** x86_64 without an epoch, a version starting with a letter (D7). */
  lettered: { name: 'tool', version: 'v2.5', release: '1' },
} as const satisfies Record<string, RpmFixtureOptions>;

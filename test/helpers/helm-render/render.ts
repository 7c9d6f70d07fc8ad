// Builds main.go (Go's text/template + Debian's sprig + Helm's own functions) once per run
// into a temp dir, and renders the chart with it as `helm template` would.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { makeTempDir, requireTool, run } from '../tools.js';

export const CHART_DIR = resolve('helm/stowage');
const SPRIG_SOURCE = '/usr/share/gocode/src/github.com/Masterminds/sprig';
const YAML_SOURCE = '/usr/share/gocode/src/gopkg.in/yaml.v3';

/** One rendered Kubernetes object and the template it came from. */
export interface RenderedObject {
  readonly template: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

export interface Rendered {
  readonly objects: readonly RenderedObject[];
  readonly notes: string;
}

let built: Promise<string> | undefined;

/** The renderer binary, built at most once per test run. Fails when Go or sprig is missing. */
export function helmRenderer(): Promise<string> {
  requireTool('go', 'golang-go');
  for (const [dir, pkg] of [
    [SPRIG_SOURCE, 'golang-github-masterminds-sprig-dev'],
    [YAML_SOURCE, 'golang-gopkg-yaml.v3-dev'],
  ] as const) {
    if (!existsSync(dir)) throw new Error(`missing Go sources ${dir}: apt-get install ${pkg}`);
  }
  built ??= (async () => {
    const dir = await makeTempDir('helm-render');
    const out = join(dir, 'helm-render');
    // GOPATH mode with Debian's packaged sources: no module download, nothing outside `dir`.
    await run('go', ['build', '-o', out, resolve('test/helpers/helm-render/main.go')], {
      env: { GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(dir, 'cache'), HOME: dir, GOFLAGS: '' },
    });
    return out;
  })();
  return built;
}

export class RenderError extends Error {}

/** `helm template` with these values files (paths relative to the chart) and JSON overrides. */
export async function renderChart(
  valuesFiles: readonly string[],
  overrides: readonly Record<string, unknown>[] = [],
  options: { readonly release?: string; readonly namespace?: string } = {},
): Promise<Rendered> {
  const binary = await helmRenderer();
  const args = ['-chart', CHART_DIR, '-release', options.release ?? 'stowage', '-namespace', options.namespace ?? 'stowage'];
  for (const f of valuesFiles) args.push('-values', join(CHART_DIR, f));
  for (const o of overrides) args.push('-set-json', JSON.stringify(o));
  const res = await run(binary, args, { allowFail: true });
  if (res.code !== 0) throw new RenderError(res.stderr.trim());
  const out = JSON.parse(res.stdout.toString()) as { manifests: Record<string, string>; notes: string };
  const objects: RenderedObject[] = [];
  for (const [template, text] of Object.entries(out.manifests)) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) throw new RenderError(`${template}: ${doc.errors[0]!.message}`);
      const value = doc.toJS() as RenderedObject | null;
      if (value !== null) objects.push({ ...value, template });
    }
  }
  return { objects, notes: out.notes };
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { STOWAGE_PATH_PATTERN } from '../../src/http/passthrough.js';
import { CHART_DIR, RenderError, renderChart, type Rendered, type RenderedObject } from '../helpers/helm-render/render.js';
import { makeTempDir } from '../helpers/tools.js';
import { ROUTING_VECTORS } from './routing-vectors.js';

/** The schemas of kubernetes-models and @kubernetes-models/gateway-api, by apiVersion/kind. */
const MODELS: Readonly<Record<string, new (data: never) => { validate(): void }>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Pod': Pod,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'gateway.networking.k8s.io/v1/HTTPRoute': HTTPRoute,
};

/** Values sets shipped in helm/stowage/ci, each on top of the required minimum. */
const SETS: Readonly<Record<string, readonly string[]>> = {
  default: ['ci/default-values.yaml'],
  'replicas 3 + Ingress': ['ci/default-values.yaml', 'ci/replicas-values.yaml'],
  existingSecret: ['ci/default-values.yaml', 'ci/existing-secret-values.yaml'],
  'HTTPRoute instead of Ingress': ['ci/default-values.yaml', 'ci/httproute-values.yaml'],
  MySQL: ['ci/default-values.yaml', 'ci/mysql-values.yaml'],
};

type Json = Record<string, unknown>;
const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v === null || v === undefined ? undefined : (v as Record<string | number, unknown>)[k]), value);

function one(r: Rendered, kind: string): RenderedObject {
  const found = r.objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `${kind}: ${found.length} rendered`);
  return found[0]!;
}
const kinds = (r: Rendered) => r.objects.map((o) => o.kind).sort();

interface Container {
  name: string;
  args?: string[];
  securityContext?: Json;
  volumeMounts?: { name: string; mountPath: string }[];
  envFrom?: unknown[];
  env?: { name: string; value: string }[];
  startupProbe?: Json;
  livenessProbe?: Json;
  readinessProbe?: Json;
}
interface PodSpec {
  securityContext?: Json;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Json[];
  topologySpreadConstraints?: Json[];
  automountServiceAccountToken?: boolean;
}
const podSpecOf = (o: RenderedObject): PodSpec =>
  (o.kind === 'Pod' ? at(o, 'spec') : at(o, 'spec', 'template', 'spec')) as PodSpec;

function expectFailure(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  return promise.then(
    () => assert.fail(`rendered, but should fail with ${reason}`),
    (err: unknown) => {
      assert.ok(err instanceof RenderError, String(err));
      assert.match(err.message, reason);
      assert.equal(err.message.split('\n').length, 1, 'one line');
    },
  );
}

describe('helm/stowage rendered like `helm template` (deploy.md §6)', function () {
  this.timeout(120_000);
  const rendered = new Map<string, Rendered>();

  before(async () => {
    for (const [name, files] of Object.entries(SETS)) rendered.set(name, await renderChart(files));
  });
  const set = (name: string) => rendered.get(name)!;

  for (const name of Object.keys(SETS)) {
    describe(`values: ${name}`, () => {
      it('renders only objects that validate against the Kubernetes and Gateway API schemas', () => {
        for (const o of set(name).objects) {
          const Model = MODELS[`${o.apiVersion}/${o.kind}`];
          assert.ok(Model, `${o.template}: no schema for ${o.apiVersion} ${o.kind}`);
          const { template, ...object } = o;
          assert.doesNotThrow(() => new Model(object as never).validate(), `${template} ${o.kind}`);
        }
      });

      it('labels everything, with selector labels the Deployment, Service and PDB share', () => {
        for (const o of set(name).objects) {
          const labels = o.metadata.labels ?? {};
          for (const key of ['name', 'instance', 'version', 'component', 'part-of', 'managed-by']) {
            assert.ok(labels[`app.kubernetes.io/${key}`], `${o.kind} ${key}`);
          }
          assert.match(labels['helm.sh/chart'] ?? '', /^stowage-\d/);
        }
        const selector = { 'app.kubernetes.io/name': 'stowage', 'app.kubernetes.io/instance': 'stowage' };
        assert.deepEqual(at(one(set(name), 'Deployment'), 'spec', 'selector', 'matchLabels'), selector);
        assert.deepEqual(at(one(set(name), 'Service'), 'spec', 'selector'), selector);
      });

      it('runs every container non-root on a read-only root filesystem (restricted PSS)', () => {
        const pods = set(name).objects.filter((o) => ['Deployment', 'Job', 'Pod'].includes(o.kind));
        assert.ok(pods.length >= 2);
        for (const o of pods) {
          const spec = podSpecOf(o);
          assert.deepEqual(
            [spec.securityContext?.['runAsNonRoot'], spec.securityContext?.['runAsUser'], spec.securityContext?.['fsGroup']],
            [true, 10001, 10001],
            o.kind,
          );
          assert.deepEqual(at(spec, 'securityContext', 'seccompProfile', 'type'), 'RuntimeDefault');
          assert.equal(spec.automountServiceAccountToken, false);
          for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
            assert.equal(c.securityContext?.['readOnlyRootFilesystem'], true, `${o.kind}/${c.name}`);
            assert.equal(c.securityContext?.['allowPrivilegeEscalation'], false, `${o.kind}/${c.name}`);
            assert.deepEqual(at(c.securityContext, 'capabilities', 'drop'), ['ALL']);
          }
        }
      });

      it('takes no plaintext secret: only references to existing Secrets', () => {
        assert.ok(!set(name).objects.some((o) => o.kind === 'Secret'));
        const config = one(set(name), 'ConfigMap').data as Record<string, string>;
        assert.doesNotMatch(config['DATABASE_URL']!, /:[^/@]*@/, 'no password in the URL');
        assert.equal(config['FORGE_SERVICE_TOKEN_FILE'], '/run/secrets/forge/token');
        assert.equal(config['DATABASE_PASSWORD_FILE'], '/run/secrets/database/password');
      });
    });
  }

  describe('values: default', () => {
    it('renders the Deployment, Service, ServiceAccount, ConfigMap, PVC, PDB and the test pod', () => {
      assert.deepEqual(kinds(set('default')), [
        'ConfigMap',
        'Deployment',
        'PersistentVolumeClaim',
        'Pod',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ]);
    });

    it('probes /healthz for liveness and startup, /readyz for readiness', () => {
      const c = podSpecOf(one(set('default'), 'Deployment')).containers[0]!;
      assert.deepEqual(at(c.livenessProbe, 'httpGet'), { path: '/healthz', port: 'http' });
      assert.deepEqual(at(c.startupProbe, 'httpGet'), { path: '/healthz', port: 'http' });
      assert.deepEqual(at(c.readinessProbe, 'httpGet'), { path: '/readyz', port: 'http' });
      assert.deepEqual([c.livenessProbe?.['periodSeconds'], c.livenessProbe?.['failureThreshold']], [10, 3]);
      assert.deepEqual([c.startupProbe?.['periodSeconds'], c.startupProbe?.['failureThreshold']], [5, 30]);
    });

    it('migrates in an init container, never in the server, and drains on SIGTERM', () => {
      const d = one(set('default'), 'Deployment');
      const spec = podSpecOf(d);
      assert.deepEqual(spec.initContainers?.map((c) => c.args), [['migrate', '--lock-timeout', '600']]);
      assert.deepEqual(spec.containers[0]!.args, ['serve']);
      const config = one(set('default'), 'ConfigMap').data as Record<string, string>;
      assert.equal(config['MIGRATE_ON_START'], 'false');
      assert.equal(at(d, 'spec', 'template', 'spec', 'terminationGracePeriodSeconds'), 120);
      assert.equal(config['SHUTDOWN_GRACE_S'], '110');
      assert.deepEqual(at(d, 'spec', 'strategy', 'rollingUpdate'), { maxSurge: '25%', maxUnavailable: 0 });
    });

    it('mounts the blob volume, a size-limited TMPDIR and the secret files; heap is 75 % of the limit', () => {
      const spec = podSpecOf(one(set('default'), 'Deployment'));
      const mounts = Object.fromEntries(spec.containers[0]!.volumeMounts!.map((m) => [m.name, m.mountPath]));
      assert.deepEqual(mounts, { data: '/data', tmp: '/tmp', 'forge-token': '/run/secrets/forge', 'database-password': '/run/secrets/database' });
      assert.deepEqual(at(spec.volumes?.find((v) => v['name'] === 'tmp'), 'emptyDir'), { sizeLimit: '1Gi' });
      assert.deepEqual(at(spec.volumes?.find((v) => v['name'] === 'data'), 'persistentVolumeClaim'), { claimName: 'stowage-data' });
      const config = one(set('default'), 'ConfigMap').data as Record<string, string>;
      assert.deepEqual([config['TMPDIR'], config['STOWAGE_DATA_DIR']], ['/tmp', '/data']);
      assert.equal(config['NODE_OPTIONS'], '--max-old-space-size=768');
    });

    it('keeps the PVC on uninstall, ReadWriteMany, and spreads pods by hostname', () => {
      const pvc = one(set('default'), 'PersistentVolumeClaim');
      assert.equal(pvc.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
      assert.deepEqual(at(pvc, 'spec', 'accessModes'), ['ReadWriteMany']);
      const spread = podSpecOf(one(set('default'), 'Deployment')).topologySpreadConstraints;
      assert.deepEqual(spread?.map((s) => [s['topologyKey'], s['whenUnsatisfiable']]), [['kubernetes.io/hostname', 'ScheduleAnyway']]);
    });

    it('changes the checksum/config annotation when a setting changes', async () => {
      const checksum = (r: Rendered) => at(one(r, 'Deployment'), 'spec', 'template', 'metadata', 'annotations', 'checksum/config');
      const other = await renderChart(SETS['default']!, [{ logLevel: 'debug' }]);
      assert.match(String(checksum(set('default'))), /^[0-9a-f]{64}$/);
      assert.notEqual(checksum(other), checksum(set('default')));
    });

    it('adds a helm test pod that fetches /healthz and /readyz from the Service', () => {
      const pod = one(set('default'), 'Pod');
      assert.equal(pod.metadata.annotations?.['helm.sh/hook'], 'test');
      const args = podSpecOf(pod).containers[0]!.args!;
      assert.deepEqual(args.slice(1), ['http://stowage:8080/healthz', 'http://stowage:8080/readyz', '']);
    });

    it('prints the client URLs, the routing, the Forgejo reminders and helm test in NOTES.txt', () => {
      const notes = set('default').notes;
      for (const type of ['alt', 'arch', 'debian', 'freebsd', 'vieter']) {
        assert.ok(notes.includes(`https://git.example.org/api/packages/alice/${type}\n`), type);
      }
      assert.ok(notes.includes(STOWAGE_PATH_PATTERN), 'the regex, since neither Ingress nor HTTPRoute is rendered');
      assert.match(notes, /proxy\/ folder/);
      assert.match(notes, /REVERSE_PROXY_TRUSTED_PROXIES/);
      assert.match(notes, /read:user,read:organization/);
      assert.match(notes, /stowage import-forgejo/);
      assert.match(notes, /helm test stowage -n stowage/);
    });
  });

  describe('values: replicas 3 + Ingress', () => {
    it('runs three pods with a PDB of one unavailable', () => {
      const r = set('replicas 3 + Ingress');
      assert.equal(at(one(r, 'Deployment'), 'spec', 'replicas'), 3);
      assert.deepEqual(at(one(r, 'PodDisruptionBudget'), 'spec', 'maxUnavailable'), 1);
      assert.equal(at(one(r, 'PodDisruptionBudget'), 'spec', 'minAvailable'), undefined);
      assert.equal(at(one(r, 'PersistentVolumeClaim'), 'spec', 'storageClassName'), 'nfs-client');
    });

    it('routes exactly the package paths of our types with the regex, for ingress-nginx', () => {
      const ingress = one(set('replicas 3 + Ingress'), 'Ingress');
      const rule = at(ingress, 'spec', 'rules', 0) as { host: string; http: { paths: { path: string; pathType: string }[] } };
      assert.equal(rule.host, 'git.example.org');
      assert.deepEqual(rule.http.paths.map((p) => [p.path, p.pathType]), [[STOWAGE_PATH_PATTERN, 'ImplementationSpecific']]);
      const regex = new RegExp(rule.http.paths[0]!.path);
      for (const v of ROUTING_VECTORS) assert.equal(regex.test(v.path.split('?')[0]!) ? 'stowage' : 'forge', v.backend, v.path);
      const a = ingress.metadata.annotations ?? {};
      for (const [k, v] of Object.entries({
        'use-regex': 'true',
        'proxy-body-size': '0',
        'proxy-request-buffering': 'off',
        'proxy-buffering': 'off',
        'proxy-read-timeout': '900',
        'proxy-send-timeout': '300',
      })) {
        assert.equal(a[`nginx.ingress.kubernetes.io/${k}`], v, k);
      }
    });
  });

  describe('values: existingSecret', () => {
    it('mounts the named keys of existing Secrets and claims, and creates no PVC', () => {
      const r = set('existingSecret');
      assert.ok(!kinds(r).includes('PersistentVolumeClaim'));
      const spec = podSpecOf(one(r, 'Deployment'));
      const volume = (name: string) => spec.volumes?.find((v) => v['name'] === name);
      assert.deepEqual(at(volume('data'), 'persistentVolumeClaim'), { claimName: 'packages' });
      assert.deepEqual(at(volume('forge-token'), 'secret'), { secretName: 'forge-token', items: [{ key: 'pat', path: 'token' }] });
      assert.deepEqual(at(volume('database-password'), 'secret'), { secretName: 'shared-db', items: [{ key: 'stowage-password', path: 'password' }] });
      assert.deepEqual(at(volume('key-secret'), 'secret'), { secretName: 'stowage-keys', items: [{ key: 'secret', path: 'key-secret' }] });
      const config = one(r, 'ConfigMap').data as Record<string, string>;
      assert.equal(config['STOWAGE_KEY_SECRET_FILE'], '/run/secrets/stowage/key-secret');
      // The init container reads the same settings, so it needs the same files.
      const init = spec.initContainers![0]!.volumeMounts!.map((m) => m.name).sort();
      assert.deepEqual(init, ['database-password', 'forge-token', 'key-secret', 'tmp']);
    });
  });

  describe('values: HTTPRoute instead of Ingress', () => {
    it('renders an HTTPRoute whose whole-path regex, under the ROOT_URL sub-path, matches exactly our paths', () => {
      const r = set('HTTPRoute instead of Ingress');
      assert.ok(!kinds(r).includes('Ingress'));
      const route = one(r, 'HTTPRoute');
      assert.deepEqual(at(route, 'spec', 'hostnames'), ['example.org']);
      assert.deepEqual(at(route, 'spec', 'parentRefs'), [{ name: 'public', namespace: 'gateway', sectionName: 'https' }]);
      assert.deepEqual(at(route, 'spec', 'rules', 0, 'timeouts'), { request: '3600s', backendRequest: '3600s' });
      const match = at(route, 'spec', 'rules', 0, 'matches', 0, 'path') as { type: string; value: string };
      assert.equal(match.type, 'RegularExpression');
      assert.equal(match.value, '^/git/api/packages/[^/]+/(alt|arch|debian|freebsd|vieter)(/.*)?$');
      const regex = new RegExp(match.value);
      for (const v of ROUTING_VECTORS) {
        const path = `/git${v.path.split('?')[0]!}`;
        assert.equal(regex.test(path) ? 'stowage' : 'forge', v.backend, path);
        assert.equal(regex.test(v.path.split('?')[0]!), false, 'nothing outside the sub-path');
      }
      assert.match(r.notes, /implementation-specific/);
    });

    it('autoscales: HPA on, no fixed replicas, PDB on', () => {
      const r = set('HTTPRoute instead of Ingress');
      assert.equal(at(one(r, 'Deployment'), 'spec', 'replicas'), undefined);
      assert.deepEqual([at(one(r, 'HorizontalPodAutoscaler'), 'spec', 'minReplicas'), at(one(r, 'HorizontalPodAutoscaler'), 'spec', 'maxReplicas')], [2, 6]);
      one(r, 'PodDisruptionBudget');
    });
  });

  describe('values: MySQL', () => {
    it('points at the external server over TLS with the pool size asked for', () => {
      const config = one(set('MySQL'), 'ConfigMap').data as Record<string, string>;
      assert.equal(config['DATABASE_URL'], 'mysql://stowage_app@mysql.example.internal:3307/packages');
      assert.deepEqual([config['DATABASE_TLS'], config['DATABASE_POOL_MAX']], ['true', '20']);
    });

    it('migrates in a pre-install/pre-upgrade hook Job with inline settings, and no init container', () => {
      const r = set('MySQL');
      const job = one(r, 'Job');
      assert.equal(job.metadata.annotations?.['helm.sh/hook'], 'pre-install,pre-upgrade');
      assert.equal(job.metadata.annotations?.['helm.sh/hook-delete-policy'], 'before-hook-creation,hook-succeeded');
      assert.deepEqual([at(job, 'spec', 'backoffLimit'), at(job, 'spec', 'activeDeadlineSeconds')], [2, 900]);
      const c = podSpecOf(job).containers[0]!;
      assert.deepEqual(c.args, ['migrate', '--lock-timeout', '900']);
      assert.equal(c.envFrom, undefined, 'no ConfigMap: it does not exist yet');
      assert.equal(c.env?.find((e) => e.name === 'DATABASE_URL')?.value, 'mysql://stowage_app@mysql.example.internal:3307/packages');
      assert.equal(podSpecOf(one(r, 'Deployment')).initContainers, undefined);
    });

    it('limits traffic with a NetworkPolicy: in from the edge, out to DNS, Forgejo and MySQL', () => {
      const policy = one(set('MySQL'), 'NetworkPolicy');
      const ports = (at(policy, 'spec', 'egress') as { ports: { port: number }[] }[]).flatMap((e) => e.ports.map((p) => p.port));
      assert.deepEqual(ports, [53, 53, 3000, 3307]);
    });
  });

  describe('other values', () => {
    it('prefix mode: PathPrefix /api/packages and FORGE_PASSTHROUGH=true', async () => {
      const r = await renderChart(SETS['replicas 3 + Ingress']!, [{ routing: { mode: 'prefix' } }]);
      const path = at(one(r, 'Ingress'), 'spec', 'rules', 0, 'http', 'paths', 0) as { path: string; pathType: string };
      assert.deepEqual([path.path, path.pathType], ['/api/packages', 'Prefix']);
      assert.equal(one(r, 'Ingress').metadata.annotations?.['nginx.ingress.kubernetes.io/use-regex'], undefined);
      assert.equal((one(r, 'ConfigMap').data as Record<string, string>)['FORGE_PASSTHROUGH'], 'true');
    });

    it('routes only the types listed in routing.types', async () => {
      const r = await renderChart(SETS['replicas 3 + Ingress']!, [{ routing: { types: ['arch', 'vieter'] } }]);
      const path = String(at(one(r, 'Ingress'), 'spec', 'rules', 0, 'http', 'paths', 0, 'path'));
      assert.equal(path, '^/api/packages/[^/]+/(arch|vieter)(/|$)');
    });

    it('uses the digest over the tag, and global.imageRegistry over image.registry', async () => {
      const digest = `sha256:${'a'.repeat(64)}`;
      const r = await renderChart(SETS['default']!, [{ global: { imageRegistry: 'reg.example.org' }, image: { registry: 'ignored', digest } }]);
      assert.equal(at(podSpecOf(one(r, 'Deployment')).containers[0], 'image'), `reg.example.org/stowage@${digest}`);
    });

    it('renders extraDeploy objects through tpl', async () => {
      const r = await renderChart(SETS['default']!, [
        { extraDeploy: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '{{ .Release.Name }}-extra' }, data: { a: 'b' } }] },
      ]);
      assert.ok(r.objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'stowage-extra'));
    });

    it('fails with a one-line reason on missing or contradictory values', async () => {
      await expectFailure(renderChart([]), /forge\.publicURL is required/);
      await expectFailure(renderChart([], [{ forge: { publicURL: 'https://git.example.org/' } }]), /forge\.serviceToken\.existingSecret is required/);
      await expectFailure(renderChart(SETS['default']!, [{ database: { host: '' } }]), /database\.host is required/);
      await expectFailure(renderChart(SETS['default']!, [{ database: { existingSecret: '' } }]), /database\.existingSecret is required/);
      await expectFailure(
        renderChart(SETS['default']!, [{ storage: { filesystem: { accessModes: ['ReadWriteOnce'] } } }]),
        /more than one replica .* ReadWriteMany/,
      );
      await expectFailure(renderChart(SETS['default']!, [{ storage: { type: 's3' } }]), /storage\.type s3 is reserved/);
      await expectFailure(renderChart(SETS['default']!, [{ routing: { types: ['arch', 'rpm'] } }]), /routing\.types: unknown type rpm/);
      await expectFailure(renderChart(SETS['default']!, [{ httpRoute: { enabled: true } }]), /httpRoute\.parentRefs is required/);
    });

    it('takes one replica on ReadWriteOnce storage, without a PDB', async () => {
      const r = await renderChart(SETS['default']!, [{ replicaCount: 1, storage: { filesystem: { accessModes: ['ReadWriteOnce'] } } }]);
      assert.ok(!kinds(r).includes('PodDisruptionBudget'));
    });
  });
});

describe('helm/stowage/values.schema.json', () => {
  const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Json;
  const defaults = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Json;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

  /** Chart defaults with these files on top, as Helm merges them before validating. */
  const merged = (files: readonly string[], extra: Json = {}): Json => {
    const merge = (a: Json, b: Json): Json => {
      const out: Json = { ...a };
      for (const [k, v] of Object.entries(b)) {
        const both = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof out[k] === 'object' && out[k] !== null && !Array.isArray(out[k]);
        out[k] = both ? merge(out[k] as Json, v as Json) : v;
      }
      return out;
    };
    return [...files.map((f) => parse(readFileSync(join(CHART_DIR, f), 'utf8')) as Json), extra].reduce(merge, defaults);
  };

  it('accepts the defaults and every shipped values set', () => {
    for (const [name, files] of Object.entries(SETS)) assert.ok(validate(merged(files)), `${name}: ${JSON.stringify(validate.errors)}`);
  });

  it('refuses unknown keys, wrong types and unknown types', () => {
    assert.equal(validate(merged(SETS['default']!, { replicas: 3 })), false);
    assert.equal(validate(merged(SETS['default']!, { replicaCount: 'three' })), false);
    assert.equal(validate(merged(SETS['default']!, { routing: { types: ['rpm'] } })), false);
    assert.equal(validate(merged(SETS['default']!, { forge: { publicURL: 'git.example.org' } })), false);
  });

  it('covers every key of values.yaml', () => {
    const missing: string[] = [];
    const walk = (value: unknown, node: Json | undefined, path: string) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
      for (const [k, v] of Object.entries(value)) {
        const child = (node?.['properties'] as Record<string, Json> | undefined)?.[k];
        if (!child && !node?.['additionalProperties']) missing.push(`${path}${k}`);
        else walk(v, child, `${path}${k}.`);
      }
    };
    walk(defaults, schema, '');
    assert.deepEqual(missing, []);
  });
});

describe('helm/stowage settings, read by loadConfig as the pod would', function () {
  this.timeout(60_000);

  /** The ConfigMap's environment, with the mounted secret files made real in a temp dir. */
  async function podConfig(files: readonly string[], overrides: Json[] = []) {
    const r = await renderChart(files, overrides);
    const env = { ...(one(r, 'ConfigMap').data as Record<string, string>) };
    const dir = await makeTempDir('pod-secrets');
    for (const name of Object.keys(env)) {
      if (!name.endsWith('_FILE')) continue;
      const file = join(dir, name);
      await writeFile(file, `secret-for-${name.toLowerCase()}-0123456789\n`);
      env[name] = file;
    }
    env['STOWAGE_DATA_DIR'] = dir;
    return loadConfig(env);
  }

  it('yields a forge-mode MySQL configuration that never migrates on start', async () => {
    const c = await podConfig(SETS['default']!);
    assert.equal(c.forge?.url.href, 'http://forgejo-http.forgejo.svc.cluster.local:3000/');
    assert.equal(c.publicUrl.href, 'https://git.example.org/');
    assert.deepEqual(c.database, {
      client: 'mysql',
      host: 'mariadb.db.svc.cluster.local',
      port: 3306,
      user: 'stowage',
      password: 'secret-for-database_password_file-0123456789',
      database: 'stowage',
      poolMax: 10,
    });
    assert.deepEqual([c.migrateOnStart, c.trustProxy, c.forgePassthrough, c.shutdownGraceS], [false, true, false, 110]);
  });

  it('turns on TLS, pool size, passthrough and the key secret file as the values ask', async () => {
    const c = await podConfig([...SETS['MySQL']!, 'ci/existing-secret-values.yaml'], [{ routing: { mode: 'prefix' } }]);
    assert.deepEqual([c.database.client === 'mysql' && c.database.tls, c.database.client === 'mysql' && c.database.poolMax], [true, 20]);
    assert.equal(c.forgePassthrough, true);
    assert.equal(c.keySecret, 'secret-for-stowage_key_secret_file-0123456789');
  });
});

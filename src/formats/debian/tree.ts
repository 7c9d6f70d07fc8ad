import { compareBytes } from './control.js';
import { formatComponentRelease, type ComponentReleaseFields } from './indexes.js';

/** One package in one component of a tree, with its pool path. */
export interface TreeMember {
  readonly component: string;
  readonly packageId: number;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly type: 'deb' | 'udeb';
  readonly section: string;
  /** Relative to the prefix. */
  readonly filename: string;
}

/** The Release fields a tree's owner chooses (aptly) or Stowage fixes (registry). */
export interface TreeReleaseSettings {
  readonly origin: string;
  readonly label: string;
  readonly version?: string;
  readonly notAutomatic?: string;
  readonly butAutomaticUpgrades?: string;
  readonly acquireByHash: boolean;
  readonly signedBy?: string;
  readonly description?: string;
  /** Valid-Until: only with SignedBy (aptly). */
  readonly validUntil: boolean;
  /** Write `Codename` into component Releases (aptly 1.6; 1.5.0 did not). */
  readonly componentCodename: boolean;
}

/** Everything a build needs to know about a tree (debian.md §4.1). */
export interface TreeShape {
  readonly kind: 'registry' | 'aptly';
  readonly distribution: string;
  readonly members: readonly TreeMember[];
  /** aptly: the publish's components; registry: derived from members. */
  readonly components: readonly string[];
  /** aptly: the publish's architectures (may hold `source`); registry: derived from members. */
  readonly architectures: readonly string[];
  readonly skipContents: boolean;
  readonly release: TreeReleaseSettings;
}

/** One generated index and the files it becomes. */
export interface IndexPlan {
  /** Directory relative to `dists/D` (`main/binary-amd64`, `''` for top-level Contents). */
  readonly dir: string;
  /** `Packages`, `Sources` or `Contents-…`. */
  readonly name: string;
  readonly kind: 'packages' | 'contents';
  readonly members: readonly TreeMember[];
  /** Compressed variants written next to the plain file. */
  readonly compressions: readonly ('gz' | 'xz')[];
  /** Contents files exist only when some member has a path. */
  readonly dropWhenEmpty: boolean;
  /** (C, A) index states whose change makes this index dirty. */
  readonly dirtyKeys: readonly string[];
  /** An aptly component Release in the same directory. */
  readonly componentRelease?: string;
}

/** `C\0A`: the key of one index state (debian.md §5). */
export const indexKey = (component: string, architecture: string) => `${component}\0${architecture}`;

const joinPath = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);
export const planPath = (p: Pick<IndexPlan, 'dir' | 'name'>) => joinPath(p.dir, p.name);

const uniqueSorted = (values: Iterable<string>) => [...new Set(values)].sort(compareBytes);

/** Registry components and architectures: those having packages, sorted (§4.5). */
export function registryComponents(members: readonly TreeMember[]): string[] {
  return uniqueSorted(members.map((m) => m.component));
}

export function registryArchitectures(members: readonly TreeMember[]): string[] {
  return uniqueSorted(members.map((m) => m.architecture));
}

/** The architectures listed in Release: aptly drops `source` (§4.5). */
export const releaseArchitectures = (shape: TreeShape): string[] =>
  shape.kind === 'registry' ? registryArchitectures(shape.members) : shape.architectures.filter((a) => a !== 'source');

/** Every index of a tree, in a stable order (debian.md §4.1). */
export function planTree(shape: TreeShape): IndexPlan[] {
  if (shape.kind === 'registry') {
    const byIndex = new Map<string, TreeMember[]>();
    for (const m of shape.members) {
      const key = indexKey(m.component, m.architecture);
      let list = byIndex.get(key);
      if (!list) byIndex.set(key, (list = []));
      list.push(m);
    }
    return [...byIndex]
      .sort(([a], [b]) => compareBytes(a, b))
      .map(([key, members]) => ({
        dir: `${members[0]!.component}/binary-${members[0]!.architecture}`,
        name: 'Packages',
        kind: 'packages' as const,
        members,
        compressions: ['gz', 'xz'] as const,
        dropWhenEmpty: false,
        dirtyKeys: [key],
      }));
  }

  const plans: IndexPlan[] = [];
  const archs = shape.architectures.filter((a) => a !== 'source');
  const r = shape.release;
  const componentRelease = (component: string, architecture: string): string => {
    const fields: ComponentReleaseFields = {
      origin: r.origin,
      label: r.label,
      distribution: shape.distribution,
      version: r.version,
      codename: r.componentCodename ? shape.distribution : undefined,
      acquireByHash: r.acquireByHash,
      signedBy: r.signedBy,
      architecture,
      component,
    };
    return formatComponentRelease(fields);
  };
  // `all` packages go into every binary-A (aptly's fan-out).
  const matches = (m: TreeMember, arch: string) => m.architecture === arch || m.architecture === 'all';
  const keysFor = (components: readonly string[], arch: string) =>
    components.flatMap((c) => [indexKey(c, arch), indexKey(c, 'all')]);

  for (const component of shape.components) {
    const inComponent = shape.members.filter((m) => m.component === component);
    const debs = inComponent.filter((m) => m.type === 'deb');
    const udebs = inComponent.filter((m) => m.type === 'udeb');
    for (const arch of shape.architectures) {
      if (arch === 'source') {
        // A12: no source packages, so an empty Sources index.
        plans.push({
          dir: `${component}/source`,
          name: 'Sources',
          kind: 'packages',
          members: [],
          compressions: ['gz', 'xz'],
          dropWhenEmpty: false,
          dirtyKeys: [],
          componentRelease: componentRelease(component, 'source'),
        });
        continue;
      }
      const keys = keysFor([component], arch);
      plans.push({
        dir: `${component}/binary-${arch}`,
        name: 'Packages',
        kind: 'packages',
        members: debs.filter((m) => matches(m, arch)),
        compressions: ['gz', 'xz'],
        dropWhenEmpty: false,
        dirtyKeys: keys,
        componentRelease: componentRelease(component, arch),
      });
      if (udebs.length > 0) {
        plans.push({
          dir: `${component}/debian-installer/binary-${arch}`,
          name: 'Packages',
          kind: 'packages',
          members: udebs.filter((m) => matches(m, arch)),
          compressions: ['gz', 'xz'],
          dropWhenEmpty: false,
          dirtyKeys: keys,
          componentRelease: componentRelease(component, arch),
        });
      }
      if (!shape.skipContents) {
        for (const [name, members] of [
          [`Contents-${arch}`, debs],
          [`Contents-udeb-${arch}`, udebs],
        ] as const) {
          plans.push({
            dir: component,
            name,
            kind: 'contents',
            members: members.filter((m) => matches(m, arch)),
            compressions: ['gz'],
            dropWhenEmpty: true,
            dirtyKeys: keys,
          });
        }
      }
    }
  }
  if (!shape.skipContents) {
    for (const arch of archs) {
      const keys = keysFor(shape.components, arch);
      for (const [name, type] of [
        [`Contents-${arch}`, 'deb'],
        [`Contents-udeb-${arch}`, 'udeb'],
      ] as const) {
        plans.push({
          dir: '',
          name,
          kind: 'contents',
          members: shape.members.filter((m) => m.type === type && matches(m, arch) && shape.components.includes(m.component)),
          compressions: ['gz'],
          dropWhenEmpty: true,
          dirtyKeys: keys,
        });
      }
    }
  }
  return plans;
}

/** Which indexes of a plan must be re-rendered for a set of dirty (C, A) keys. */
export function isDirty(plan: IndexPlan, dirty: ReadonlySet<string> | 'all'): boolean {
  return dirty === 'all' || plan.dirtyKeys.some((k) => dirty.has(k));
}

/** The keys of the indexes a member's change touches. */
export function memberKeys(members: readonly Pick<TreeMember, 'component' | 'architecture'>[]): string[] {
  return [...new Set(members.map((m) => indexKey(m.component, m.architecture)))];
}

/** `main/binary-amd64/Packages` → `main/binary-amd64`. */
export const dirOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');

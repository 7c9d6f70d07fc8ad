import { badRequest, type HttpError } from '../../errors.js';
import { parsePackageAbi, type PackageAbi } from './abi.js';

/** What an upload keeps of a package's manifest (freebsd.md §3.4, §4). */
export interface FreeBsdManifest {
  readonly name: string;
  readonly version: string;
  /** `abi` as the manifest spells it; `abiKey.key` is its lower-cased form. */
  readonly abi: string;
  readonly abiKey: PackageAbi;
  readonly origin: string;
  readonly comment: string;
  /** The validated manifest minus dropped and computed keys, in the manifest's key order. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Where the entry's computed keys point (freebsd.md §4.1). */
export interface EntryFile {
  readonly sha256: string;
  readonly size: number;
}

/** Longest name and version we store (255-character columns, and the file name fits 600). */
export const MAX_NAME_BYTES = 255;

// freebsd.md §3.4
const NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+,]*$/;
const LICENSE_LOGIC = new Set(['single', 'or', 'dual', 'and', 'multi']);
const MESSAGE_TYPES = new Set(['install', 'upgrade', 'remove']);
const MAX_FREEBSD_VERSION = 2147483647;
/** Hold the file list, scripts and config: pkg keeps them out of catalogues. */
const DROPPED = new Set(['files', 'directories', 'dirs', 'config', 'scripts', 'lua_scripts']);
/** Replaced by the values computed at upload. */
const COMPUTED = new Set(['sum', 'pkgsize', 'path', 'repopath']);
/** Local-only annotations (`pkg repo` removes them too). */
const LOCAL_ANNOTATIONS = new Set(['repository', 'relocated']);
const REQUIRED = ['name', 'version', 'origin', 'prefix', 'comment', 'maintainer', 'www', 'desc', 'abi'];

const fail = (key: string, reason: string): HttpError => badRequest(`invalid package: ${key}: ${reason}`);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Check = (value: Json, key: string) => void;

const isObject = (v: Json): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSafeInteger = (v: Json): v is number => typeof v === 'number' && Number.isSafeInteger(v);

const string: Check = (v, k) => {
  if (typeof v !== 'string') throw fail(k, 'must be a string');
};
const nonEmptyString: Check = (v, k) => {
  if (typeof v !== 'string' || v === '') throw fail(k, 'must be a non-empty string');
};
// pkg reads `name` and `version` from strings or integers alone; a float is a wrong type.
const stringOrInteger: Check = (v, k) => {
  if (typeof v !== 'string' && !isSafeInteger(v)) throw fail(k, 'must be a string or an integer');
};
const boolean: Check = (v, k) => {
  if (typeof v !== 'boolean') throw fail(k, 'must be a boolean');
};
const size: Check = (v, k) => {
  if (!isSafeInteger(v) || v < 0) throw fail(k, 'must be an integer of at least 0');
};
const stringArray: Check = (v, k) => {
  if (!Array.isArray(v) || !v.every((e) => typeof e === 'string')) throw fail(k, 'must be an array of strings');
};
const stringMap: Check = (v, k) => {
  if (!isObject(v) || !Object.values(v).every((e) => typeof e === 'string')) {
    throw fail(k, 'must be an object of strings');
  }
};
// pkg reads an element object as name → id strings.
const usersOrGroups: Check = (v, k) => {
  const ok = (e: Json) => typeof e === 'string' || (isObject(e) && Object.values(e).every((x) => typeof x === 'string'));
  if (!Array.isArray(v) || !v.every(ok)) throw fail(k, 'must be an array of strings or objects of strings');
};
const licenseLogic: Check = (v, k) => {
  if (typeof v !== 'string' || !LICENSE_LOGIC.has(v)) throw fail(k, 'must be single, or, dual, and or multi');
};
const options: Check = (v, k) => {
  const ok = (e: Json) => typeof e === 'boolean' || e === 'on' || e === 'off';
  if (!isObject(v) || !Object.values(v).every(ok)) throw fail(k, 'must be an object of "on", "off" or booleans');
};
const deps: Check = (v, k) => {
  const dep = (d: Json) =>
    isObject(d) &&
    typeof d.origin === 'string' &&
    (d.version === undefined || typeof d.version === 'string' || isSafeInteger(d.version));
  const ok = (e: Json) => dep(e) || (Array.isArray(e) && e.every(dep));
  if (!isObject(v) || !Object.values(v).every(ok)) {
    throw fail(k, 'must be an object of {"origin": string, "version": string}');
  }
};
const messages: Check = (v, k) => {
  if (typeof v === 'string') return;
  const optionalString = (e: Json | undefined) => e === undefined || typeof e === 'string';
  const ok = (e: Json) =>
    isObject(e) &&
    typeof e.message === 'string' &&
    (e.type === undefined || (typeof e.type === 'string' && MESSAGE_TYPES.has(e.type))) &&
    optionalString(e.minimum_version) &&
    optionalString(e.maximum_version);
  if (!Array.isArray(v) || !v.every(ok)) {
    throw fail(k, 'must be a string or an array of {"message": string, "type": install|upgrade|remove}');
  }
};

/**
 * Every key whose wrong type makes pkg reject the whole catalogue (freebsd.md §3.4); also
 * `requires`, `option_defaults` and `option_descriptions`, which pkg 2.x reads the same way.
 */
const KNOWN: ReadonlyMap<string, Check> = new Map(Object.entries({
  name: stringOrInteger,
  version: stringOrInteger,
  origin: nonEmptyString,
  prefix: nonEmptyString,
  comment: string,
  maintainer: string,
  www: string,
  desc: string,
  abi: string,
  arch: string,
  flatsize: size,
  licenselogic: licenseLogic,
  licenses: stringArray,
  categories: stringArray,
  provides: stringArray,
  requires: stringArray,
  conflicts: stringArray,
  shlibs_required: stringArray,
  shlibs_required_ignore: stringArray,
  shlibs_provided: stringArray,
  shlibs_provided_ignore: stringArray,
  shlibs: stringArray,
  users: usersOrGroups,
  groups: usersOrGroups,
  deps,
  options,
  option_defaults: stringMap,
  option_descriptions: stringMap,
  annotations: stringMap,
  dep_formula: string,
  vital: boolean,
  messages,
  message: messages,
}));

/** Sets an own property, `__proto__` included, as JSON.parse does. */
function setOwn(target: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Numbers JSON.stringify would rewrite (Infinity → null) or round: refused anywhere. */
function checkNumbers(value: Json, key: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {
      throw fail(key, 'number out of range');
    }
  } else if (Array.isArray(value)) {
    for (const e of value) checkNumbers(e, key);
  } else if (isObject(value)) {
    for (const e of Object.values(value)) checkNumbers(e, key);
  }
}

/** `FreeBSD_version`: what pkg compares with the client's OSVERSION (freebsd.md §3.4, §5.8). */
function checkFreeBsdVersion(value: string, abi: PackageAbi): void {
  const n = /^[0-9]{1,10}$/.test(value) ? Number(value) : 0;
  if (n < 1 || n > MAX_FREEBSD_VERSION) {
    throw fail('annotations', `FreeBSD_version must be digits between 1 and ${MAX_FREEBSD_VERSION}`);
  }
  if (abi.kind !== 'any' && Math.floor(n / 100000) !== Number(abi.major)) {
    throw fail('annotations', `FreeBSD_version ${value} is not a FreeBSD ${abi.major} version`);
  }
}

/** The manifest's text as a JSON object, or 400 (freebsd.md §3.3: JSON only, never UCL). */
export function parseManifestJson(text: string): Record<string, Json> {
  let value: Json;
  try {
    value = JSON.parse(text) as Json;
  } catch {
    throw badRequest('invalid package: manifest is not JSON');
  }
  if (!isObject(value)) throw badRequest('invalid package: manifest is not JSON');
  return value;
}

/** Validates a manifest object by every rule of freebsd.md §3.4. */
export function validateManifest(raw: Readonly<Record<string, Json>>): FreeBsdManifest {
  for (const key of REQUIRED) if (!Object.hasOwn(raw, key)) throw fail(key, 'missing');
  const fields: Record<string, Json> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (DROPPED.has(key) || COMPUTED.has(key)) continue;
    const check = KNOWN.get(key);
    if (check && value === null) throw fail(key, 'must not be null');
    check?.(value, key);
    checkNumbers(value, key);
    setOwn(fields, key, value);
  }

  const name = String(fields.name);
  const version = String(fields.version);
  if (!NAME.test(name)) throw fail('name', `must match ${NAME.source}`);
  if (!VERSION.test(version)) throw fail('version', `must match ${VERSION.source}`);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw fail('name', `longer than ${MAX_NAME_BYTES} bytes`);
  if (Buffer.byteLength(version) > MAX_NAME_BYTES) throw fail('version', `longer than ${MAX_NAME_BYTES} bytes`);
  const abi = String(fields.abi);
  const abiKey = parsePackageAbi(abi);

  const annotations = fields.annotations;
  if (annotations !== undefined && isObject(annotations)) {
    const kept: Record<string, Json> = {};
    for (const [tag, value] of Object.entries(annotations)) {
      if (LOCAL_ANNOTATIONS.has(tag)) continue;
      if (tag === 'FreeBSD_version') checkFreeBsdVersion(String(value), abiKey);
      setOwn(kept, tag, value);
    }
    fields.annotations = kept;
  }
  return {
    name,
    version,
    abi,
    abiKey,
    origin: String(fields.origin),
    comment: String(fields.comment),
    fields,
  };
}

/** Text → validated manifest. */
export function parseManifest(text: string): FreeBsdManifest {
  return validateManifest(parseManifestJson(text));
}

/** `<name>-<version>.pkg`: the file name under `All/` (freebsd.md §4). */
export const packageFileName = (m: Pick<FreeBsdManifest, 'name' | 'version'>): string =>
  `${m.name}-${m.version}.pkg`;

/**
 * The catalogue entry (freebsd.md §4.1): the manifest's kept keys, then `sum`, `pkgsize`,
 * `path` and `repopath`, as one compact line of JSON. The same for every view.
 */
export function formatEntry(m: FreeBsdManifest, file: EntryFile): string {
  const path = `All/${packageFileName(m)}`;
  return JSON.stringify({ ...m.fields, sum: file.sha256, pkgsize: file.size, path, repopath: path });
}

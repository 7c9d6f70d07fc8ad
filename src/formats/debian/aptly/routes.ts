import Router from '@koa/router';
import busboy from 'busboy';
import type { Context, Middleware } from 'koa';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AUTH_GROUP_VERIFY, FORGE_UNAVAILABLE, OWNER_NOT_FOUND, REQ_PACKAGE_ACCESS, REQ_TOKEN, type Access } from '../../../auth/access.js';
import { HttpError, badRequest, notFound, notImplemented, tooLarge } from '../../../errors.js';
import { answerErrors, type ErrorStyle } from '../../../http/errors.js';
import { uploadStream } from '../../../http/request.js';
import { sendJson } from '../../../http/send.js';
import { decodePublishSegment, splitPublishPrefix } from '../publish.js';
import { checkUploadPath, type AptlyService, type ListOptions, type Outcome, type SigningOptions } from './service.js';

const MAX_JSON_BYTES = 4 * 1024 * 1024;
// forge.md §4 texts keep their plain-text rendering; every other error is aptly's JSON.
const FORGE_TEXTS = new Set([REQ_PACKAGE_ACCESS, AUTH_GROUP_VERIFY, REQ_TOKEN, OWNER_NOT_FOUND, FORGE_UNAVAILABLE]);

/** aptly answers `{"error": "…"}` (debian.md §7.1); auth failures render as forge.md §4. */
const APTLY_JSON: ErrorStyle = {
  write(ctx, status, message) {
    if (FORGE_TEXTS.has(message)) {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = message;
      return;
    }
    sendJson(ctx, status, { error: message });
  },
};

/** A JSON body read whatever the Content-Type, its keys matched case-insensitively (A4). */
class JsonBody {
  private readonly fields = new Map<string, unknown>();
  readonly raw: unknown;

  constructor(value: unknown) {
    this.raw = value;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) this.fields.set(k.toLowerCase(), v);
    }
  }

  has(name: string): boolean {
    const v = this.fields.get(name.toLowerCase());
    return v !== undefined && v !== null;
  }

  string(name: string, required = false): string | undefined {
    const v = this.fields.get(name.toLowerCase());
    if (v === undefined || v === null) {
      if (required) throw badRequest(`field ${name} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw badRequest(`field ${name} must be a string`);
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.fields.get(name.toLowerCase());
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw badRequest(`field ${name} must be a boolean`);
    return v;
  }

  strings(name: string, required = false): string[] | undefined {
    const v = this.fields.get(name.toLowerCase());
    if (v === undefined || v === null) {
      if (required) throw badRequest(`field ${name} is required`);
      return undefined;
    }
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw badRequest(`field ${name} must be a list of strings`);
    return v as string[];
  }

  objects(name: string, required = false): JsonBody[] | undefined {
    const v = this.fields.get(name.toLowerCase());
    if (v === undefined || v === null) {
      if (required) throw badRequest(`field ${name} is required`);
      return undefined;
    }
    if (!Array.isArray(v) || v.some((x) => x === null || typeof x !== 'object' || Array.isArray(x))) {
      throw badRequest(`field ${name} must be a list of objects`);
    }
    return v.map((x) => new JsonBody(x));
  }

  object(name: string): JsonBody | undefined {
    const v = this.fields.get(name.toLowerCase());
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`field ${name} must be an object`);
    return new JsonBody(v);
  }
}

async function readJson(ctx: Context): Promise<JsonBody> {
  const declared = Number(ctx.get('Content-Length') || '0');
  if (declared > MAX_JSON_BYTES) throw tooLarge('request body too large');
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw tooLarge('request body too large');
    parts.push(chunk as Buffer);
  }
  const text = Buffer.concat(parts).toString('utf8').trim();
  if (text === '') return new JsonBody({});
  try {
    return new JsonBody(JSON.parse(text) as unknown);
  } catch (err) {
    throw badRequest(`invalid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** `?_async=V`: true unless V is n, no, f, false, 0 or off; an empty value is true (§7.2). */
function isAsync(ctx: Context): boolean {
  const v = ctx.query._async;
  if (v === undefined) return false;
  const value = (Array.isArray(v) ? v[0] : v) ?? '';
  return !['n', 'no', 'f', 'false', '0', 'off'].includes(value.toLowerCase());
}

const query = (ctx: Context, name: string): string => {
  const v = ctx.query[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

const param = (ctx: Context, name: string): string => (ctx.params as Record<string, string | undefined>)[name] ?? '';

function listOptions(ctx: Context): ListOptions {
  return {
    q: query(ctx, 'q') || undefined,
    details: query(ctx, 'format') === 'details',
    maximumVersion: query(ctx, 'maximumVersion') === '1',
    withDeps: query(ctx, 'withDeps') === '1',
  };
}

function signingOf(body: JsonBody): SigningOptions {
  const s = body.object('Signing');
  if (!s) return { skip: false, gpgKeys: [] };
  return { skip: s.bool('Skip') ?? false, gpgKeys: (s.string('GpgKey') ?? '').split(',').filter((k) => k.trim() !== '') };
}

function sourcesOf(body: JsonBody, name: string, required: boolean): { component: string; name: string }[] | undefined {
  return body.objects(name, required)?.map((s) => ({ component: s.string('Component') ?? '', name: s.string('Name') ?? '' }));
}

const respond = (ctx: Context, outcome: Outcome) => sendJson(ctx, outcome.status, outcome.body);

/** aptly's REST API under `/api/packages/{owner}/debian/aptly/api` (debian.md §7). */
export function aptlyRoutes(aptly: AptlyService, access: Access): Router {
  const base = '/api/packages/:owner/debian/aptly/api';
  const router = new Router({ prefix: base });
  router.use(answerErrors(APTLY_JSON));
  const read = access.require('read');
  const write = access.require('write');
  const owner = (ctx: Context) => ctx.state.owner;
  const run = (ctx: Context, name: string, op: () => Promise<Outcome>, detail?: () => unknown) =>
    aptly.run(owner(ctx), name, isAsync(ctx), op, detail).then((o) => respond(ctx, o));

  // ---------------------------------------------------------------- misc (§7.8)
  router.get('/version', read, (ctx) => sendJson(ctx, 200, { Version: aptly.apiVersion }));
  router.get('/ready', read, async (ctx) =>
    (await aptly.ready()) ? sendJson(ctx, 200, { Status: 'Aptly is ready' }) : sendJson(ctx, 503, { Status: 'Aptly is unavailable' }),
  );
  router.get('/healthy', read, (ctx) => sendJson(ctx, 200, { Status: 'Aptly is healthy' }));

  // ---------------------------------------------------------------- files (§7.3)
  router.get('/files', write, async (ctx) => sendJson(ctx, 200, await aptly.listUploadDirs(owner(ctx))));
  router.delete('/files', write, () => {
    throw notFound('not found');
  });
  // `curl -F file=@hello.deb …/api/files/dir`: every part with a file name is stored.
  router.post('/files/:dir', write, async (ctx) => {
    const dir = checkUploadPath(param(ctx, 'dir'), 'dir');
    const declared = ctx.get('Content-Length');
    if (declared !== '' && Number(declared) > aptly.maxUploadBytes) throw tooLarge('request body too large');
    sendJson(ctx, 200, await multipartUpload(ctx, (part) => aptly.storeUpload(owner(ctx), dir, part)));
  });
  router.put('/files/:dir/:file', write, async (ctx) => {
    const dir = checkUploadPath(param(ctx, 'dir'), 'dir');
    const file = checkUploadPath(param(ctx, 'file'), 'file');
    const body = uploadStream(ctx, { maxBytes: aptly.maxUploadBytes });
    sendJson(ctx, 200, [await aptly.storeUpload(owner(ctx), dir, { fileName: file, body })]);
  });
  router.get('/files/:dir', write, async (ctx) => {
    sendJson(ctx, 200, await aptly.listUploadFiles(owner(ctx), checkUploadPath(param(ctx, 'dir'), 'dir')));
  });
  router.delete('/files/:dir', write, async (ctx) => {
    await aptly.deleteUploads(owner(ctx), checkUploadPath(param(ctx, 'dir'), 'dir'));
    sendJson(ctx, 200, {});
  });
  router.delete('/files/:dir/:file', write, async (ctx) => {
    await aptly.deleteUploads(owner(ctx), checkUploadPath(param(ctx, 'dir'), 'dir'), checkUploadPath(param(ctx, 'file'), 'file'));
    sendJson(ctx, 200, {});
  });

  // ---------------------------------------------------------------- repos (§7.4)
  router.get('/repos', read, async (ctx) => sendJson(ctx, 200, await aptly.listRepos(owner(ctx))));
  router.post('/repos', write, async (ctx) => {
    const b = await readJson(ctx);
    const name = b.string('Name', true)!;
    await run(ctx, `Create repository ${name}`, () =>
      aptly.createRepo(owner(ctx), {
        name,
        comment: b.string('Comment') ?? '',
        defaultDistribution: b.string('DefaultDistribution') ?? '',
        defaultComponent: b.string('DefaultComponent') ?? '',
        fromSnapshot: b.string('FromSnapshot') ?? '',
      }),
    );
  });
  router.get('/repos/:name', read, async (ctx) => sendJson(ctx, 200, await aptly.showRepo(owner(ctx), param(ctx, 'name'))));
  router.put('/repos/:name', write, async (ctx) => {
    const b = await readJson(ctx);
    const name = param(ctx, 'name');
    await run(ctx, `Edit repository ${name}`, () =>
      aptly.editRepo(owner(ctx), name, {
        name: b.string('Name'),
        comment: b.string('Comment'),
        defaultDistribution: b.string('DefaultDistribution'),
        defaultComponent: b.string('DefaultComponent'),
      }),
    );
  });
  router.delete('/repos/:name', write, async (ctx) => {
    const name = param(ctx, 'name');
    await run(ctx, `Delete repo ${name}`, () => aptly.dropRepo(owner(ctx), name, query(ctx, 'force') === '1'));
  });
  router.get('/repos/:name/packages', read, async (ctx) => sendJson(ctx, 200, await aptly.repoPackages(owner(ctx), param(ctx, 'name'), listOptions(ctx))));
  for (const [method, add] of [
    ['post', true],
    ['delete', false],
  ] as const) {
    router[method]('/repos/:name/packages', write, async (ctx) => {
      const b = await readJson(ctx);
      const refs = b.strings('PackageRefs', true)!;
      const name = param(ctx, 'name');
      await run(ctx, `${add ? 'Add packages to' : 'Remove packages from'} repo ${name}`, () => aptly.changeRepoPackages(owner(ctx), name, refs, add));
    });
  }
  router.post('/repos/:name/file/:dir{/:file}', write, async (ctx) => {
    const name = param(ctx, 'name');
    const dir = checkUploadPath(param(ctx, 'dir'), 'dir');
    const rawFile = param(ctx, 'file');
    const file = rawFile === '' ? undefined : checkUploadPath(rawFile, 'file');
    const options = { forceReplace: query(ctx, 'forceReplace') === '1', noRemove: query(ctx, 'noRemove') === '1' };
    const task = file === undefined ? `Add packages from dir ${dir} to repo ${name}` : `Add package ${file} from dir ${dir} to repo ${name}`;
    await run(ctx, task, () => aptly.addUploadsToRepo(owner(ctx), name, dir, file, options));
  });
  router.post('/repos/:name/snapshots', write, async (ctx) => {
    const b = await readJson(ctx);
    const snapshot = b.string('Name', true)!;
    const name = param(ctx, 'name');
    await run(ctx, `Create snapshot of repo ${name}`, () => aptly.snapshotRepo(owner(ctx), name, { name: snapshot, description: b.string('Description') ?? '' }));
  });

  // ---------------------------------------------------------------- snapshots (§7.6)
  router.get('/snapshots', read, async (ctx) => sendJson(ctx, 200, await aptly.listSnapshots(owner(ctx), query(ctx, 'sort'))));
  router.post('/snapshots', write, async (ctx) => {
    const b = await readJson(ctx);
    const name = b.string('Name', true)!;
    await run(ctx, `Create snapshot ${name}`, () =>
      aptly.createSnapshot(owner(ctx), {
        name,
        description: b.string('Description') ?? '',
        sourceSnapshots: b.strings('SourceSnapshots') ?? [],
        packageRefs: b.strings('PackageRefs') ?? [],
      }),
    );
  });
  router.get('/snapshots/:name', read, async (ctx) => sendJson(ctx, 200, await aptly.showSnapshot(owner(ctx), param(ctx, 'name'))));
  router.put('/snapshots/:name', write, async (ctx) => {
    const b = await readJson(ctx);
    const name = param(ctx, 'name');
    await run(ctx, `Update snapshot ${name}`, () => aptly.editSnapshot(owner(ctx), name, { name: b.string('Name'), description: b.string('Description') }));
  });
  router.delete('/snapshots/:name', write, async (ctx) => {
    const name = param(ctx, 'name');
    await run(ctx, `Delete snapshot ${name}`, () => aptly.dropSnapshot(owner(ctx), name, query(ctx, 'force') === '1'));
  });
  router.get('/snapshots/:name/packages', read, async (ctx) => sendJson(ctx, 200, await aptly.snapshotPackages(owner(ctx), param(ctx, 'name'), listOptions(ctx))));

  // ---------------------------------------------------------------- packages (§7.5)
  router.get('/packages', read, async (ctx) => sendJson(ctx, 200, await aptly.allPackages(owner(ctx), listOptions(ctx))));
  router.get('/packages/:key', read, async (ctx) => sendJson(ctx, 200, await aptly.showPackage(owner(ctx), param(ctx, 'key'))));

  // ---------------------------------------------------------------- publish (§7.7)
  // Segments kept raw: an empty prefix (`/api/publish//bookworm`) means `.`.
  router.all('/publish{/*rest}', async (ctx) => {
    const mode = ctx.method === 'GET' || ctx.method === 'HEAD' ? read : write;
    await mode(ctx, () => publishRoute(aptly, ctx));
  });

  // ---------------------------------------------------------------- tasks (§7.2)
  router.get('/tasks', write, async (ctx) => sendJson(ctx, 200, await aptly.listTasks(owner(ctx))));
  router.post('/tasks-clear', write, async (ctx) => {
    await aptly.clearTasks(owner(ctx));
    sendJson(ctx, 200, {});
  });
  router.get('/tasks-wait', write, async (ctx) => {
    await aptly.waitAllTasks(owner(ctx));
    sendJson(ctx, 200, {});
  });
  router.get('/tasks/:id/wait', write, async (ctx) => sendJson(ctx, 200, await aptly.waitTask(owner(ctx), param(ctx, 'id'))));
  router.get('/tasks/:id/output', write, async (ctx) => sendJson(ctx, 200, await aptly.taskOutput(owner(ctx), param(ctx, 'id'))));
  router.get('/tasks/:id/detail', write, async (ctx) => sendJson(ctx, 200, await aptly.taskDetail(owner(ctx), param(ctx, 'id'))));
  router.get('/tasks/:id/return_value', write, async (ctx) => sendJson(ctx, 200, await aptly.taskReturnValue(owner(ctx), param(ctx, 'id'))));
  router.get('/tasks/:id', write, async (ctx) => sendJson(ctx, 200, await aptly.showTask(owner(ctx), param(ctx, 'id'))));
  router.delete('/tasks/:id', write, async (ctx) => sendJson(ctx, 200, await aptly.deleteTask(owner(ctx), param(ctx, 'id'))));

  // ---------------------------------------------------------------- not provided (§7.4)
  const unimplemented: Middleware = () => {
    throw notImplemented('not implemented');
  };
  for (const path of [
    '/repos/:name/include{/*rest}',
    '/repos/:name/copy{/*rest}',
    '/mirrors{/*rest}',
    '/gpg{/*rest}',
    '/graph{/*rest}',
    '/graph.:ext',
    '/db/cleanup',
    '/s3{/*rest}',
    '/gcs{/*rest}',
    '/jfrog{/*rest}',
    '/storage',
    '/snapshots/:name/diff/:other',
    '/snapshots/:name/merge',
    '/snapshots/:name/pull',
  ]) {
    router.all(path, write, unimplemented);
  }
  router.all('{/*rest}', () => {
    throw notFound('not found');
  });
  return router;
}

/** The publish routes, dispatched on raw segments (debian.md §7.7.1 encoding). */
async function publishRoute(aptly: AptlyService, ctx: Context): Promise<void> {
  const owner = ctx.state.owner;
  const raw = ctx.path.slice(ctx.path.indexOf('/aptly/api/publish') + '/aptly/api/publish'.length);
  let parts = raw === '' ? [] : raw.slice(1).split('/');
  if (parts.length === 1 && parts[0] === '') parts = [];
  const decoded = parts.map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      throw notFound('not found');
    }
  });
  const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
  const seg = (i: number) => decodePublishSegment(decoded[i] ?? '');
  const runIt = (name: string, op: (detail: { total: number }) => Promise<Outcome>) => {
    const detail = { total: 0 };
    return aptly
      .run(owner, name, isAsync(ctx), () => op(detail), () => ({ TotalNumberOfPackages: detail.total, RemainingNumberOfPackages: 0 }))
      .then((o) => respond(ctx, o));
  };

  if (decoded.length <= 1 && method === 'GET' && decoded.length === 0) return sendJson(ctx, 200, await aptly.listPublishes(owner));
  if (decoded.length <= 1 && method === 'POST') {
    const body = await readJson(ctx);
    const sources = sourcesOf(body, 'Sources', true)!;
    const sourceKind = body.string('SourceKind', true)!;
    const rawPrefix = decoded.length === 0 ? '.' : seg(0);
    const b = {
      sourceKind,
      sources,
      distribution: body.string('Distribution') ?? '',
      label: body.string('Label'),
      origin: body.string('Origin'),
      notAutomatic: body.string('NotAutomatic'),
      butAutomaticUpgrades: body.string('ButAutomaticUpgrades'),
      architectures: body.strings('Architectures'),
      forceOverwrite: body.bool('ForceOverwrite') ?? false,
      skipContents: body.bool('SkipContents') ?? false,
      acquireByHash: body.bool('AcquireByHash') ?? false,
      signedBy: body.string('SignedBy') ?? '',
      multiDist: body.bool('MultiDist') ?? false,
      version: body.string('Version') ?? '',
      signing: signingOf(body),
    };
    return runIt(`Publish ${sourceKind} repository ${rawPrefix}/${b.distribution}`, (detail) => aptly.createPublish(owner, rawPrefix, b, detail));
  }
  if (decoded.length < 2) throw notFound('not found');
  // One storage only: `s3:x:` names a publish that cannot exist here.
  const split = splitPublishPrefix(seg(0));
  const prefix = split.storage === '' ? split.prefix : `${split.storage}:${split.prefix}`;
  const distribution = seg(1);
  const name = `Update published repository ${prefix}/${distribution}`;
  const rest = decoded.slice(2);

  if (rest.length === 0) {
    if (method === 'GET') return sendJson(ctx, 200, await aptly.showPublish(owner, prefix, distribution));
    if (method === 'DELETE') {
      const skipCleanup = query(ctx, 'SkipCleanup') === '1';
      return runIt(`Delete published repository ${prefix}/${distribution}`, () => aptly.dropPublish(owner, prefix, distribution, skipCleanup));
    }
    if (method === 'PUT') {
      const body = await readJson(ctx);
      const update = updateOf(body, true);
      return runIt(name, (detail) => aptly.updatePublish(owner, prefix, distribution, update, false, detail));
    }
  }
  if (rest.length === 1 && rest[0] === 'update' && method === 'POST') {
    const update = updateOf(await readJson(ctx), false);
    return runIt(name, (detail) => aptly.updatePublish(owner, prefix, distribution, update, true, detail));
  }
  if (rest[0] === 'sources' && rest.length === 1) {
    if (method === 'GET') return sendJson(ctx, 200, await aptly.listStaged(owner, prefix, distribution));
    if (method === 'POST') {
      const body = await readJson(ctx);
      const component = body.string('Component', true)!;
      const source = body.string('Name', true)!;
      return runIt(name, () => aptly.addStaged(owner, prefix, distribution, component, source));
    }
    if (method === 'PUT') {
      const body = await readJson(ctx);
      if (!Array.isArray(body.raw)) throw badRequest('body must be a list of sources');
      const list = (body.raw as unknown[]).map((x) => {
        const s = new JsonBody(x);
        return { component: s.string('Component', true)!, name: s.string('Name', true)! };
      });
      return runIt(name, () => aptly.setStaged(owner, prefix, distribution, list));
    }
    if (method === 'DELETE') return runIt(name, () => aptly.dropStaged(owner, prefix, distribution));
  }
  if (rest[0] === 'sources' && rest.length === 2) {
    const component = decodePublishSegment(rest[1]!);
    if (method === 'PUT') {
      const body = await readJson(ctx);
      const update = { component: body.string('Component'), name: body.string('Name', true)! };
      return runIt(name, () => aptly.updateStaged(owner, prefix, distribution, component, update));
    }
    if (method === 'DELETE') return runIt(name, () => aptly.removeStaged(owner, prefix, distribution, component));
  }
  throw notFound('not found');
}

function updateOf(body: JsonBody, withSnapshots: boolean) {
  return {
    signing: signingOf(body),
    forceOverwrite: body.bool('ForceOverwrite') ?? false,
    skipCleanup: body.bool('SkipCleanup') ?? false,
    skipContents: body.bool('SkipContents'),
    acquireByHash: body.bool('AcquireByHash'),
    multiDist: body.bool('MultiDist'),
    signedBy: body.string('SignedBy'),
    label: body.string('Label'),
    origin: body.string('Origin'),
    version: body.string('Version'),
    architectures: body.strings('Architectures'),
    snapshots: withSnapshots ? sourcesOf(body, 'Snapshots', false) : undefined,
  };
}

/** Every file part of a multipart body, in order, each streamed into `store`. */
async function multipartUpload(ctx: Context, store: (part: { fileName: string; body: Readable }) => Promise<string>): Promise<string[]> {
  const type = ctx.get('Content-Type');
  if (!/^multipart\/form-data/i.test(type)) throw badRequest("request Content-Type isn't multipart/form-data");
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: ctx.req.headers });
  } catch {
    throw badRequest('invalid multipart body');
  }
  const stored: string[] = [];
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  parser.on('file', (_field, stream, info) => {
    const fileName = info.filename;
    if (failure !== undefined || !fileName) {
      stream.resume();
      return;
    }
    chain = chain.then(async () => {
      if (failure !== undefined) {
        stream.resume();
        return;
      }
      try {
        stored.push(await store({ fileName, body: stream }));
      } catch (err) {
        failure ??= err;
        stream.resume();
      }
    });
  });
  try {
    await pipeline(ctx.req, parser);
  } catch (err) {
    await chain;
    throw failure ?? (err instanceof HttpError ? err : badRequest('invalid multipart body'));
  }
  await chain;
  if (failure !== undefined) throw failure;
  return stored;
}

// Runs the real nginx, Caddy and HAProxy with the very files of proxy/, templated only for
// listen ports and upstream addresses; pid, logs and temp files stay in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { makeTempDir, requireTool } from './tools.js';

export const PROXY_DIR = resolve('proxy');

export type ProxyKind = 'nginx' | 'caddy' | 'haproxy';

/** The shipped file of each proxy we run, and the Debian package providing it. */
export const PROXIES: Readonly<Record<ProxyKind, { readonly file: string; readonly command: string; readonly debian: string }>> = {
  nginx: { file: 'nginx.conf', command: 'nginx', debian: 'nginx' },
  caddy: { file: 'Caddyfile', command: 'caddy', debian: 'caddy' },
  haproxy: { file: 'haproxy.cfg', command: 'haproxy', debian: 'haproxy' },
};

export interface Upstreams {
  /** `host:port` of each Stowage replica. */
  readonly stowage: readonly string[];
  /** `host:port` of the forge. */
  readonly forge: string;
}

export interface RunningProxy {
  readonly kind: ProxyKind;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  /** stdout, stderr and the log files so far. */
  output(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * `text` with each `[from, to]` replaced everywhere; a `from` that no longer occurs fails, so
 * an edit of the shipped file cannot silently leave the test running something else.
 */
export function templated(text: string, replacements: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of replacements) {
    if (!out.includes(from)) throw new Error(`template: "${from}" is no longer in the file`);
    out = out.split(from).join(to);
  }
  return out;
}

/** The shipped file of `kind`, as text. */
export function proxyFile(kind: ProxyKind): string {
  return readFileSync(join(PROXY_DIR, PROXIES[kind].file), 'utf8');
}

/** A port nobody listens on right now (the proxy binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, output: () => Promise<string>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}:\n${await output()}`);
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`proxy did not listen on ${port}:\n${await output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function nginxFiles(dir: string, port: number, up: Upstreams): { args: string[]; files: Record<string, string> } {
  const site = templated(proxyFile('nginx'), [
    ['    server stowage:8080;', up.stowage.map((s) => `    server ${s};`).join('\n')],
    ['server forgejo:3000;', `server ${up.forge};`],
    ['listen 80;', `listen 127.0.0.1:${port};`],
  ]);
  // The frame a distribution's nginx.conf gives, with every path inside `dir`.
  const main = [
    'daemon off;',
    'worker_processes 1;',
    // As root, workers would run as nobody and could not write to the temp dir.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log info;`,
    'events { worker_connections 512; }',
    'http {',
    `    access_log ${dir}/access.log;`,
    `    client_body_temp_path ${dir}/client_body;`,
    `    proxy_temp_path ${dir}/proxy_temp;`,
    `    fastcgi_temp_path ${dir}/fastcgi_temp;`,
    `    uwsgi_temp_path ${dir}/uwsgi_temp;`,
    `    scgi_temp_path ${dir}/scgi_temp;`,
    `    include ${dir}/site.conf;`,
    '}',
    '',
  ].join('\n');
  return {
    args: ['-e', `${dir}/error.log`, '-p', `${dir}/`, '-c', `${dir}/nginx.conf`],
    files: { 'site.conf': site, 'nginx.conf': main },
  };
}

function caddyFiles(dir: string, port: number, up: Upstreams): { args: string[]; files: Record<string, string> } {
  if (up.stowage.length !== 1) throw new Error('caddy: one Stowage upstream in these tests');
  const site = templated(proxyFile('caddy'), [
    ['git.example.org {', `http://127.0.0.1:${port} {`],
    ['reverse_proxy stowage:8080', `reverse_proxy ${up.stowage[0]!}`],
    ['reverse_proxy forgejo:3000', `reverse_proxy ${up.forge}`],
  ]);
  // Global options the site file leaves to the host: no admin endpoint, no certificates.
  const global = ['{', '\tadmin off', '\tauto_https off', `\tdefault_bind 127.0.0.1`, '}', ''].join('\n');
  return {
    args: ['run', '--adapter', 'caddyfile', '--config', `${dir}/Caddyfile`],
    files: { Caddyfile: `${global}${site}` },
  };
}

function haproxyFiles(dir: string, port: number, up: Upstreams): { args: string[]; files: Record<string, string> } {
  const cfg = templated(proxyFile('haproxy'), [
    ['bind :80', `bind 127.0.0.1:${port}`],
    ['    server stowage1 stowage:8080', up.stowage.map((s, i) => `    server stowage${i + 1} ${s}`).join('\n')],
    ['server forgejo1 forgejo:3000', `server forgejo1 ${up.forge}`],
  ]);
  return { args: ['-db', '-f', `${dir}/haproxy.cfg`], files: { 'haproxy.cfg': cfg } };
}

const BUILDERS = { nginx: nginxFiles, caddy: caddyFiles, haproxy: haproxyFiles } as const;

/** Starts `kind` in the foreground with the shipped file, and waits until it listens. */
export async function startProxy(kind: ProxyKind, upstreams: Upstreams): Promise<RunningProxy> {
  const { command, debian } = PROXIES[kind];
  requireTool(command, debian);
  const dir = await makeTempDir(`proxy-${kind}`);
  const port = await freePort();
  const { args, files } = BUILDERS[kind](dir, port, upstreams);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  for (const sub of ['home', 'data', 'config']) await mkdir(join(dir, sub));
  const child = spawn(command, args, {
    cwd: dir,
    // Caddy keeps its state under these; nothing is written outside the temp dir.
    env: { ...process.env, HOME: join(dir, 'home'), XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const captured: string[] = [];
  child.stdout!.on('data', (c: Buffer) => captured.push(c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => captured.push(c.toString('utf8')));
  const output = async () => {
    const logs = await Promise.all(
      ['error.log', 'access.log'].map((f) => readFile(join(dir, f), 'utf8').catch(() => '')),
    );
    return [captured.join(''), ...logs].join('\n');
  };
  try {
    await waitForPort(port, child, output);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    kind,
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((done) => child.once('exit', () => done()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * One HTTP/1.1 request with the path sent exactly as given (fetch would normalise `..` and
 * encodings away, and the point is what the proxy does with them).
 */
export function rawRequest(
  base: string,
  options: {
    readonly method?: string;
    readonly path: string;
    readonly headers?: OutgoingHttpHeaders;
    readonly body?: Buffer | string | Readable;
  },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((done, fail) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.headers,
      agent: false,
    });
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    const body = options.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else pipeline(body, req).catch(fail);
  });
}

/** Peak and current resident memory of one process, from /proc (kB). */
export async function memoryOf(pid: number): Promise<{ hwmKb: number; rssKb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwmKb: field('VmHWM'), rssKb: field('VmRSS') };
}

/** `pid` and all its descendants (nginx workers, for one). */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isFinite(ppid)) parents.set(Number(name), ppid);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

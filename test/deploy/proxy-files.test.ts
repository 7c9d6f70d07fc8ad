import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { STOWAGE_PATH_PATTERN } from '../../src/http/passthrough.js';
import { PROXY_DIR } from '../helpers/proxies.js';
import { ROUTING_VECTORS } from './routing-vectors.js';

const read = (file: string) => readFileSync(join(PROXY_DIR, file), 'utf8');

/** How to find the routing regex in each shipped file. */
const REGEX_OF: Readonly<Record<string, (text: string) => string[]>> = {
  'nginx.conf': (t) => [...t.matchAll(/^\s*location\s+~\*?\s+(\S+)\s*\{/gm)].map((m) => m[1]!),
  Caddyfile: (t) => [...t.matchAll(/path_regexp\s+\w+\s+(\S+)/g)].map((m) => m[1]!),
  'haproxy.cfg': (t) => [...t.matchAll(/^\s*acl\s+stowage\s+.*-m\s+reg\s+(\S+)\s*$/gm)].map((m) => m[1]!),
  'traefik/dynamic.yml': (t) => {
    const routers = (parse(t) as { http: { routers: Record<string, { rule: string }> } }).http.routers;
    return Object.values(routers).flatMap((r) => [...r.rule.matchAll(/PathRegexp\(`([^`]+)`\)/g)].map((m) => m[1]!));
  },
};

describe('proxy/ files: the routing regex (deploy.md §2)', () => {
  for (const [file, extract] of Object.entries(REGEX_OF)) {
    describe(file, () => {
      it('carries the one regex, verbatim, once', () => {
        assert.deepEqual(extract(read(file)), [STOWAGE_PATH_PATTERN]);
      });

      it('sends every routing vector to its backend', () => {
        const pattern = new RegExp(extract(read(file))[0]!);
        for (const v of ROUTING_VECTORS) {
          assert.equal(pattern.test(v.path.split('?')[0]!) ? 'stowage' : 'forge', v.backend, v.path);
        }
      });

      it('starts with a header saying where it goes and what to change', () => {
        const header = read(file).split('\n\n')[0]!;
        assert.match(header, /^# /);
        assert.match(header, /Goes in: /);
        assert.match(header, /Change: /);
      });
    });
  }

  it('routes the type segment case-sensitively in nginx, as Forgejo does', () => {
    assert.match(read('nginx.conf'), /location ~ \^/);
    assert.doesNotMatch(read('nginx.conf'), /location ~\*/);
  });

  it('keeps nginx from buffering or limiting uploads to Stowage, and strips sign-in headers', () => {
    const location = /location ~ [^{]+\{([^}]*)\}/.exec(read('nginx.conf'))![1]!;
    for (const line of [
      'client_max_body_size    0;',
      'proxy_request_buffering off;',
      'proxy_buffering         off;',
      'proxy_http_version      1.1;',
      'proxy_read_timeout      900s;',
      'proxy_set_header        X-WEBAUTH-USER "";',
      'proxy_set_header        X-Forwarded-Proto $scheme;',
      'proxy_set_header        Host $http_host;',
    ]) {
      assert.ok(location.includes(line), line);
    }
  });
});

// Traefik is not in Debian: its files are checked against the structure its documentation
// gives for the file provider (dynamic) and the static configuration, reduced to the keys a
// deployment next to Forgejo uses. Unknown keys fail, as they do in Traefik's own decoder.
type Shape =
  | 'string'
  | 'int'
  | 'bool'
  | 'duration'
  | { readonly object: Readonly<Record<string, Shape>>; readonly required?: readonly string[]; readonly oneOf?: boolean }
  | { readonly map: Shape }
  | { readonly array: Shape };

const GO_DURATION = /^(0|-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/;

function check(value: unknown, shape: Shape, at: string): string[] {
  if (shape === 'string') return typeof value === 'string' ? [] : [`${at}: not a string`];
  if (shape === 'int') return Number.isInteger(value) ? [] : [`${at}: not an integer`];
  if (shape === 'bool') return typeof value === 'boolean' ? [] : [`${at}: not a boolean`];
  if (shape === 'duration') {
    return (typeof value === 'string' && GO_DURATION.test(value)) || Number.isInteger(value) ? [] : [`${at}: not a duration`];
  }
  if ('array' in shape) {
    if (!Array.isArray(value)) return [`${at}: not a list`];
    return value.flatMap((v, i) => check(v, shape.array, `${at}[${i}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: not a mapping`];
  const entries = Object.entries(value);
  if ('map' in shape) return entries.flatMap(([k, v]) => check(v, shape.map, `${at}.${k}`));
  const errors = entries.flatMap(([k, v]) =>
    shape.object[k] === undefined ? [`${at}.${k}: unknown key`] : check(v, shape.object[k]!, `${at}.${k}`),
  );
  for (const k of shape.required ?? []) if (!(k in value)) errors.push(`${at}.${k}: missing`);
  if (shape.oneOf && entries.length !== 1) errors.push(`${at}: exactly one of ${Object.keys(shape.object).join(', ')}`);
  return errors;
}

const strings = { array: 'string' } as const;
const tlsShape: Shape = {
  object: { certResolver: 'string', options: 'string', domains: { array: { object: { main: 'string', sans: strings } } } },
};
const serversTransportRef = 'string';

/** https://doc.traefik.io/traefik/routing/providers/file/ (v3), http section. */
const TRAEFIK_DYNAMIC: Shape = {
  object: {
    http: {
      object: {
        routers: {
          map: {
            object: {
              rule: 'string',
              ruleSyntax: 'string',
              priority: 'int',
              entryPoints: strings,
              middlewares: strings,
              service: 'string',
              tls: tlsShape,
              observability: { object: { accessLogs: 'bool', metrics: 'bool', tracing: 'bool' } },
            },
            required: ['rule', 'service'],
          },
        },
        middlewares: {
          map: {
            oneOf: true,
            object: {
              headers: {
                object: {
                  customRequestHeaders: { map: 'string' },
                  customResponseHeaders: { map: 'string' },
                  sslProxyHeaders: { map: 'string' },
                },
              },
              buffering: {
                object: { maxRequestBodyBytes: 'int', memRequestBodyBytes: 'int', maxResponseBodyBytes: 'int', memResponseBodyBytes: 'int', retryExpression: 'string' },
              },
              stripPrefix: { object: { prefixes: strings } },
              addPrefix: { object: { prefix: 'string' } },
              redirectScheme: { object: { scheme: 'string', permanent: 'bool', port: 'string' } },
              basicAuth: { object: { users: strings, usersFile: 'string', realm: 'string', removeHeader: 'bool' } },
              forwardAuth: { object: { address: 'string', trustForwardHeader: 'bool', authResponseHeaders: strings } },
              ipAllowList: { object: { sourceRange: strings } },
              retry: { object: { attempts: 'int', initialInterval: 'duration' } },
            },
          },
        },
        services: {
          map: {
            oneOf: true,
            object: {
              loadBalancer: {
                object: {
                  servers: { array: { object: { url: 'string', weight: 'int', preservePath: 'bool' }, required: ['url'] } },
                  passHostHeader: 'bool',
                  responseForwarding: { object: { flushInterval: 'duration' } },
                  serversTransport: serversTransportRef,
                  healthCheck: { object: { path: 'string', interval: 'duration', timeout: 'duration', port: 'int' } },
                },
                required: ['servers'],
              },
              weighted: { object: { services: { array: { object: { name: 'string', weight: 'int' } } } } },
            },
          },
        },
        serversTransports: {
          map: {
            object: {
              forwardingTimeouts: {
                object: { dialTimeout: 'duration', responseHeaderTimeout: 'duration', idleConnTimeout: 'duration' },
              },
              maxIdleConnsPerHost: 'int',
            },
          },
        },
      },
    },
  },
  required: ['http'],
};

/** https://doc.traefik.io/traefik/routing/entrypoints/ and /providers/file/ (static). */
const TRAEFIK_STATIC: Shape = {
  object: {
    entryPoints: {
      map: {
        object: {
          address: 'string',
          transport: {
            object: {
              respondingTimeouts: { object: { readTimeout: 'duration', writeTimeout: 'duration', idleTimeout: 'duration' } },
              lifeCycle: { object: { requestAcceptGraceTimeout: 'duration', graceTimeOut: 'duration' } },
            },
          },
          forwardedHeaders: { object: { trustedIPs: strings, insecure: 'bool' } },
          http: {
            object: {
              redirections: {
                object: { entryPoint: { object: { to: 'string', scheme: 'string', permanent: 'bool', priority: 'int' }, required: ['to'] } },
              },
              middlewares: strings,
              tls: tlsShape,
            },
          },
        },
        required: ['address'],
      },
    },
    providers: {
      object: { file: { object: { filename: 'string', directory: 'string', watch: 'bool' } } },
    },
    log: { object: { level: 'string' } },
    accessLog: { object: { filePath: 'string' } },
  },
  required: ['entryPoints', 'providers'],
};

interface TraefikDynamic {
  http: {
    routers: Record<string, { rule: string; priority?: number; service: string; middlewares?: string[]; entryPoints?: string[] }>;
    middlewares: Record<string, Record<string, unknown>>;
    services: Record<string, { loadBalancer?: { passHostHeader?: boolean } }>;
  };
}
interface TraefikStatic {
  entryPoints: Record<string, { transport?: { respondingTimeouts?: { readTimeout?: string } } }>;
  providers: { file: { filename: string } };
}

describe('proxy/traefik: structure of the Traefik v3 files', () => {
  const dynamic = parse(read('traefik/dynamic.yml')) as TraefikDynamic;
  const stat = parse(read('traefik/traefik.yml')) as TraefikStatic;

  it('match the documented dynamic (file provider) and static structures', () => {
    assert.deepEqual(check(dynamic, TRAEFIK_DYNAMIC, 'dynamic'), []);
    assert.deepEqual(check(stat, TRAEFIK_STATIC, 'static'), []);
  });

  it('catches what Traefik would refuse (the checker is not a no-op)', () => {
    const broken = structuredClone(dynamic) as unknown as { http: { routers: Record<string, Record<string, unknown>> } };
    broken.http.routers['stowage']!['priorty'] = 5;
    delete broken.http.routers['forgejo']!['service'];
    assert.deepEqual(check(broken, TRAEFIK_DYNAMIC, 'dynamic'), [
      'dynamic.http.routers.stowage.priorty: unknown key',
      'dynamic.http.routers.forgejo.service: missing',
    ]);
  });

  it('references only services, middlewares and entry points that exist', () => {
    for (const [name, router] of Object.entries(dynamic.http.routers)) {
      assert.ok(dynamic.http.services[router.service], `${name}: service ${router.service}`);
      for (const m of router.middlewares ?? []) assert.ok(dynamic.http.middlewares[m], `${name}: middleware ${m}`);
      for (const e of router.entryPoints ?? []) assert.ok(stat.entryPoints[e], `${name}: entry point ${e}`);
    }
    assert.equal(stat.providers.file.filename, '/etc/traefik/dynamic.yml');
  });

  it('lets the Stowage router win by explicit priority, for the same host', () => {
    const { stowage, forgejo } = dynamic.http.routers;
    assert.ok(stowage && forgejo);
    assert.ok((stowage.priority ?? 0) > (forgejo.priority ?? 0));
    const host = (rule: string) => /Host\(`([^`]+)`\)/.exec(rule)?.[1];
    assert.equal(host(stowage.rule), host(forgejo.rule));
  });

  it('never buffers, keeps Host, strips sign-in headers, and lifts the 60 s read timeout', () => {
    const chain = dynamic.http.routers['stowage']!.middlewares ?? [];
    assert.ok(chain.every((m) => !('buffering' in dynamic.http.middlewares[m]!)));
    const stripped = chain.flatMap((m) =>
      Object.entries((dynamic.http.middlewares[m]!['headers'] as { customRequestHeaders?: Record<string, string> } | undefined)?.customRequestHeaders ?? {}),
    );
    assert.deepEqual(stripped, [
      ['X-WEBAUTH-USER', ''],
      ['X-WEBAUTH-EMAIL', ''],
      ['X-WEBAUTH-FULLNAME', ''],
    ]);
    assert.equal(dynamic.http.services['stowage']!.loadBalancer?.passHostHeader, true);
    for (const e of dynamic.http.routers['stowage']!.entryPoints ?? []) {
      assert.match(String(stat.entryPoints[e]?.transport?.respondingTimeouts?.readTimeout), /^0s?$/, e);
    }
  });
});

/**
 * The one OpenStack auth/session module: credentials from clouds.yaml or the worker's OS_* environment (resolved on
 * the node, never part of a workflow input), Keystone v3 (password, application credential) and Swift tempauth v1,
 * a token cache refreshed before `expires_at`, service catalog endpoint selection, and exactly one re-authentication
 * when a service answers 401. Secrets live in `Secret` values: never logged, never in errors, never returned.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { HttpClient } from './http';
import type { HttpClientOptions, HttpRequest, HttpResponse } from './http';
import { OpenStackError } from './errors';

/** A credential or token. Prints as `[redacted]` (String, JSON, util.inspect); `reveal()` is for the wire only. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

export const ENDPOINT_INTERFACES = ['public', 'internal', 'admin'] as const;
export type EndpointInterface = (typeof ENDPOINT_INTERFACES)[number];
export const AUTH_TYPES = ['password', 'v3applicationcredential', 'v1password'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/** Resolved credentials and endpoint preferences of one cloud. */
export interface CloudConfig {
  /** Where the config came from, for messages: `clouds.yaml cloud "x" (/etc/openstack/clouds.yaml)` or `OS_* environment`. */
  source: string;
  authType: AuthType;
  /** Keystone URL (`…/v3` or unversioned), or the tempauth URL (`…/auth/v1.0`) for v1password. */
  authUrl: string;
  username?: string;
  userId?: string;
  userDomainName?: string;
  userDomainId?: string;
  password?: Secret;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: Secret;
  region?: string;
  interface: EndpointInterface;
  /** PEM CA bundle file for TLS endpoints. */
  cacert?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration: clouds.yaml and OS_* environment

export interface LoadConfigOptions {
  /** clouds.yaml entry; without it the OS_* environment is used. */
  cloud?: string;
  /** Override the configured region / interface (from the storage target). */
  region?: string;
  interface?: EndpointInterface;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
}

function configError(message: string): OpenStackError {
  return new OpenStackError('Config', message);
}

/** Where clouds.yaml is looked for, in order (openstacksdk's order); the first file that exists is used. */
export function cloudsYamlPaths(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home = homedir()): string[] {
  const paths = [join(cwd, 'clouds.yaml'), join(home, '.config', 'openstack', 'clouds.yaml'), '/etc/openstack/clouds.yaml'];
  return env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE, ...paths] : paths;
}

/** secure.yaml (passwords kept apart from clouds.yaml) is merged over the entry, like openstacksdk does. */
function secureYamlPaths(env: NodeJS.ProcessEnv, cwd: string, home: string): string[] {
  const paths = [join(cwd, 'secure.yaml'), join(home, '.config', 'openstack', 'secure.yaml'), '/etc/openstack/secure.yaml'];
  return env.OS_CLIENT_SECURE_FILE ? [env.OS_CLIENT_SECURE_FILE, ...paths] : paths;
}

async function readFirst(paths: string[], required?: string): Promise<{ path: string; text: string } | undefined> {
  for (const path of paths) {
    try {
      return { path, text: await readFile(path, 'utf8') };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (path === required) throw configError(`cannot read ${path} (${code ?? 'error'})`);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw configError(`cannot read ${path} (${code ?? 'error'})`);
    }
  }
  return undefined;
}

function cloudsOf(text: string, path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // yaml's messages quote the offending line, which may hold a password: report only the position.
    const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    throw configError(`${path} is not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ''}`);
  }
  const clouds = (doc as { clouds?: unknown } | null)?.clouds;
  return clouds !== null && typeof clouds === 'object' ? (clouds as Record<string, unknown>) : {};
}

/** Plain-data view of a YAML mapping; scalars (YAML turns `password: 1234` into a number) become strings. */
function mapping(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v !== null && typeof v === 'object' && b !== null && typeof b === 'object' && !Array.isArray(v)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Raw, unvalidated settings in one vocabulary for both sources. */
interface RawSettings {
  authType?: string;
  authUrl?: string;
  username?: string;
  userId?: string;
  password?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  defaultDomainName?: string;
  defaultDomainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
  region?: string;
  interface?: string;
  cacert?: string;
}

function normalizeInterface(value: string, source: string): EndpointInterface {
  const v = value.toLowerCase().replace(/url$/, '');
  if ((ENDPOINT_INTERFACES as readonly string[]).includes(v)) return v as EndpointInterface;
  throw configError(`${source}: interface ${JSON.stringify(value)} is not one of ${ENDPOINT_INTERFACES.join(', ')}`);
}

function normalizeAuthType(value: string | undefined, raw: RawSettings, source: string): AuthType {
  const v = value?.toLowerCase().replace(/[-_]/g, '');
  if (v === undefined || v === '') return raw.applicationCredentialSecret !== undefined ? 'v3applicationcredential' : 'password';
  if (v === 'password' || v === 'v3password') return 'password';
  if (v === 'v3applicationcredential' || v === 'applicationcredential') return 'v3applicationcredential';
  if (v === 'v1password') return 'v1password';
  throw configError(`${source}: auth type ${JSON.stringify(value)} is not supported (supported: password, v3applicationcredential, v1password)`);
}

function buildConfig(raw: RawSettings, source: string, overrides: LoadConfigOptions): CloudConfig {
  const authType = normalizeAuthType(raw.authType, raw, source);
  if (!raw.authUrl) throw configError(`${source}: no auth URL (auth_url / OS_AUTH_URL)`);
  if (!/^https?:\/\//i.test(raw.authUrl)) throw configError(`${source}: auth URL ${JSON.stringify(raw.authUrl)} is not http(s)`);
  if (authType !== 'v1password' && /\/v2\.0\/?$/.test(raw.authUrl)) throw configError(`${source}: Keystone v2.0 is not supported, use the v3 auth URL`);
  const iface = overrides.interface ?? (raw.interface ? normalizeInterface(raw.interface, source) : 'public');
  const config: CloudConfig = { source, authType, authUrl: raw.authUrl.replace(/\/+$/, ''), interface: iface };
  const region = overrides.region ?? raw.region;
  if (region) config.region = region;
  if (raw.cacert) config.cacert = raw.cacert;
  const missing = (what: string): never => {
    throw configError(`${source}: ${authType} authentication needs ${what}`);
  };
  const userDomain = (): void => {
    if (raw.userDomainName) config.userDomainName = raw.userDomainName;
    else if (raw.userDomainId) config.userDomainId = raw.userDomainId;
    else if (raw.defaultDomainName) config.userDomainName = raw.defaultDomainName;
    else config.userDomainId = raw.defaultDomainId ?? 'default'; // python-openstackclient's default domain
  };
  switch (authType) {
    case 'v1password':
      if (!raw.username) missing('a username');
      if (!raw.password) missing('a password');
      config.username = raw.username;
      config.password = new Secret(raw.password ?? '');
      break;
    case 'password':
      if (!raw.username && !raw.userId) missing('a username or user id');
      if (!raw.password) missing('a password');
      if (!raw.projectName && !raw.projectId) missing('a project (project_name / OS_PROJECT_NAME or project id): Swift needs a project-scoped token');
      if (raw.userId) config.userId = raw.userId;
      else {
        config.username = raw.username;
        userDomain();
      }
      config.password = new Secret(raw.password ?? '');
      if (raw.projectId) config.projectId = raw.projectId;
      else {
        config.projectName = raw.projectName;
        if (raw.projectDomainName) config.projectDomainName = raw.projectDomainName;
        else if (raw.projectDomainId) config.projectDomainId = raw.projectDomainId;
        else if (raw.defaultDomainName) config.projectDomainName = raw.defaultDomainName;
        else config.projectDomainId = raw.defaultDomainId ?? 'default';
      }
      break;
    case 'v3applicationcredential':
      if (!raw.applicationCredentialSecret) missing('an application credential secret');
      if (raw.applicationCredentialId) config.applicationCredentialId = raw.applicationCredentialId;
      else if (raw.applicationCredentialName && (raw.username || raw.userId)) {
        config.applicationCredentialName = raw.applicationCredentialName;
        if (raw.userId) config.userId = raw.userId;
        else {
          config.username = raw.username;
          userDomain();
        }
      } else missing('an application credential id (or its name and the user)');
      config.applicationCredentialSecret = new Secret(raw.applicationCredentialSecret ?? '');
      break;
  }
  return config;
}

/** The OS_* variables of the worker (openrc). */
export function configFromEnv(env: NodeJS.ProcessEnv, overrides: LoadConfigOptions = {}): CloudConfig {
  const get = (...names: string[]): string | undefined => {
    for (const n of names) {
      const v = env[n];
      if (v !== undefined && v !== '') return v;
    }
    return undefined;
  };
  if (!get('OS_AUTH_URL')) {
    throw configError('no OpenStack credentials on this node: the storage names no clouds.yaml cloud and OS_AUTH_URL is not set in the worker environment');
  }
  const raw: RawSettings = {
    authType: get('OS_AUTH_TYPE'),
    authUrl: get('OS_AUTH_URL'),
    username: get('OS_USERNAME'),
    userId: get('OS_USER_ID'),
    password: get('OS_PASSWORD'),
    userDomainName: get('OS_USER_DOMAIN_NAME'),
    userDomainId: get('OS_USER_DOMAIN_ID'),
    projectName: get('OS_PROJECT_NAME', 'OS_TENANT_NAME'),
    projectId: get('OS_PROJECT_ID', 'OS_TENANT_ID'),
    projectDomainName: get('OS_PROJECT_DOMAIN_NAME'),
    projectDomainId: get('OS_PROJECT_DOMAIN_ID'),
    defaultDomainName: get('OS_DEFAULT_DOMAIN_NAME'),
    defaultDomainId: get('OS_DEFAULT_DOMAIN_ID', 'OS_DEFAULT_DOMAIN'),
    applicationCredentialId: get('OS_APPLICATION_CREDENTIAL_ID'),
    applicationCredentialName: get('OS_APPLICATION_CREDENTIAL_NAME'),
    applicationCredentialSecret: get('OS_APPLICATION_CREDENTIAL_SECRET'),
    region: get('OS_REGION_NAME'),
    interface: get('OS_INTERFACE', 'OS_ENDPOINT_TYPE'),
    cacert: get('OS_CACERT'),
  };
  return buildConfig(raw, 'OS_* environment', overrides);
}

/** One clouds.yaml entry (already merged with secure.yaml). */
export function configFromCloudEntry(entry: unknown, source: string, overrides: LoadConfigOptions = {}): CloudConfig {
  const top = mapping(entry);
  const auth = mapping((entry as { auth?: unknown } | null)?.auth);
  const raw: RawSettings = {
    authType: top.auth_type,
    authUrl: auth.auth_url,
    username: auth.username,
    userId: auth.user_id,
    password: auth.password,
    userDomainName: auth.user_domain_name,
    userDomainId: auth.user_domain_id,
    projectName: auth.project_name ?? auth.tenant_name,
    projectId: auth.project_id ?? auth.tenant_id,
    projectDomainName: auth.project_domain_name,
    projectDomainId: auth.project_domain_id,
    defaultDomainName: auth.default_domain_name,
    defaultDomainId: auth.default_domain_id,
    applicationCredentialId: auth.application_credential_id,
    applicationCredentialName: auth.application_credential_name,
    applicationCredentialSecret: auth.application_credential_secret,
    region: top.region_name,
    interface: top.interface ?? top.endpoint_type,
    cacert: top.cacert,
  };
  return buildConfig(raw, source, overrides);
}

/**
 * Credentials for a storage target, resolved on this node: the clouds.yaml entry `cloud` when given (the OS_*
 * variables are then ignored, unlike openstacksdk, whose merging turns a good cloud into a 401), else the OS_* env
 * (an openrc with OS_AUTH_URL, or OS_CLOUD naming a clouds.yaml entry).
 */
export async function loadCloudConfig(opts: LoadConfigOptions = {}): Promise<CloudConfig> {
  const env = opts.env ?? process.env;
  if (opts.cloud === undefined) {
    if (env.OS_AUTH_URL || !env.OS_CLOUD) return configFromEnv(env, opts);
    return loadCloudConfig({ ...opts, cloud: env.OS_CLOUD });
  }
  const cwd = opts.cwd ?? process.cwd();
  const home = opts.home ?? homedir();
  const paths = cloudsYamlPaths(env, cwd, home);
  const file = await readFirst(paths, env.OS_CLIENT_CONFIG_FILE);
  if (!file) throw configError(`cloud ${JSON.stringify(opts.cloud)}: no clouds.yaml on this node (looked in ${paths.join(', ')})`);
  const clouds = cloudsOf(file.text, file.path);
  let entry = clouds[opts.cloud];
  if (entry === undefined || entry === null || typeof entry !== 'object') {
    throw configError(`cloud ${JSON.stringify(opts.cloud)} is not in ${file.path} (clouds: ${Object.keys(clouds).join(', ') || 'none'})`);
  }
  const secure = await readFirst(secureYamlPaths(env, cwd, home), env.OS_CLIENT_SECURE_FILE);
  const secureEntry = secure ? cloudsOf(secure.text, secure.path)[opts.cloud] : undefined;
  if (secureEntry !== null && typeof secureEntry === 'object') {
    entry = deepMerge(entry as Record<string, unknown>, secureEntry as Record<string, unknown>);
  }
  return configFromCloudEntry(entry, `clouds.yaml cloud ${JSON.stringify(opts.cloud)} (${file.path})`, opts);
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens and the service catalog

export interface CatalogEndpoint {
  interface: string;
  region?: string;
  url: string;
}

export interface CatalogService {
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

/** One authentication: the token, when it expires (epoch ms; unknown for some tempauth setups) and where services are. */
export interface AuthState {
  token: Secret;
  obtainedAt: number;
  expiresAt?: number;
  catalog: CatalogService[];
  /** tempauth only: X-Storage-Url, the one object-store endpoint. */
  storageUrl?: string;
}

/** Tokens by credential fingerprint; one per process lets successive activities reuse a token. */
export class TokenCache {
  private readonly entries = new Map<string, AuthState>();
  get(key: string): AuthState | undefined {
    return this.entries.get(key);
  }
  set(key: string, state: AuthState): void {
    this.entries.set(key, state);
  }
  delete(key: string): void {
    this.entries.delete(key);
  }
  keys(): string[] {
    return [...this.entries.keys()];
  }
}

/** The worker's cache (drivers use it unless given another one). */
export const processTokenCache = new TokenCache();

/** Picks the endpoint of a service type from a Keystone catalog by interface and region. */
export function selectEndpoint(catalog: CatalogService[], type: string, iface: EndpointInterface, region?: string): string {
  const services = catalog.filter((s) => s.type === type);
  if (services.length === 0) {
    throw configError(`the service catalog has no ${type} service (types: ${[...new Set(catalog.map((s) => s.type))].join(', ') || 'none'})`);
  }
  const all = services.flatMap((s) => s.endpoints);
  const withIface = all.filter((e) => e.interface.toLowerCase().replace(/url$/, '') === iface);
  if (withIface.length === 0) {
    throw configError(`the service catalog has no ${iface} ${type} endpoint (interfaces: ${[...new Set(all.map((e) => e.interface))].join(', ')})`);
  }
  const regions = [...new Set(withIface.map((e) => e.region ?? ''))];
  const chosen = region === undefined ? withIface : withIface.filter((e) => e.region === region);
  if (chosen.length === 0) {
    throw configError(`the service catalog has no ${iface} ${type} endpoint in region ${JSON.stringify(region)} (regions: ${regions.join(', ')})`);
  }
  if (region === undefined && regions.length > 1) {
    throw configError(`the ${iface} ${type} endpoints are in several regions (${regions.join(', ')}): set a region (region_name / OS_REGION_NAME / ?region=)`);
  }
  return (chosen[0] as CatalogEndpoint).url.replace(/\/+$/, '');
}

const keystoneTokenSchema = z.object({
  token: z.object({
    expires_at: z.string(),
    issued_at: z.string().optional(),
    catalog: z
      .array(
        z.object({
          type: z.string(),
          name: z.string().optional(),
          endpoints: z.array(z.object({ interface: z.string(), region_id: z.string().nullish(), region: z.string().nullish(), url: z.string() })),
        })
      )
      .optional(),
  }),
});

/** `…/v3` or an unversioned Keystone URL -> its token URL. */
export function keystoneTokensUrl(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  return /\/v3$/.test(base) ? `${base}/auth/tokens` : `${base}/v3/auth/tokens`;
}

function keystoneAuthBody(c: CloudConfig): unknown {
  const domain = (name?: string, id?: string): object => (name !== undefined ? { name } : { id });
  const user = (): object =>
    c.userId !== undefined ? { id: c.userId } : { name: c.username, domain: domain(c.userDomainName, c.userDomainId) };
  if (c.authType === 'v3applicationcredential') {
    const cred =
      c.applicationCredentialId !== undefined
        ? { id: c.applicationCredentialId, secret: c.applicationCredentialSecret?.reveal() }
        : { name: c.applicationCredentialName, user: user(), secret: c.applicationCredentialSecret?.reveal() };
    return { auth: { identity: { methods: ['application_credential'], application_credential: cred } } };
  }
  const project = c.projectId !== undefined ? { id: c.projectId } : { name: c.projectName, domain: domain(c.projectDomainName, c.projectDomainId) };
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { ...user(), password: c.password?.reveal() } } },
      scope: { project },
    },
  };
}

export interface SessionOptions extends HttpClientOptions {
  /** Default: a cache private to this session. Drivers pass `processTokenCache`. */
  tokenCache?: TokenCache;
  /** A token is renewed this long before it expires (capped at half its lifetime). Default 5 min. */
  refreshMarginMs?: number;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
}

export interface ServiceRequest extends Omit<HttpRequest, 'url'> {
  /** Path below the endpoint, already URL-encoded, starting with `/` (or empty for the endpoint itself). */
  path: string;
  query?: Record<string, string | number | undefined>;
}

const AUTH_HEADERS_TIMEOUT_MS = 60_000;
const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;

function raceAbort<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the signal's reason, as fetch rejects
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject);
  });
}

/** An authenticated connection to one cloud: a keep-alive HTTP agent plus a (shared) token. Close it when done. */
export class OpenStackSession {
  private readonly http: HttpClient;
  private readonly cache: TokenCache;
  private readonly cacheKey: string;
  private readonly marginMs: number;
  private readonly now: () => number;
  private inflight?: Promise<AuthState>;
  private auths = 0;

  /** Reads the CA bundle (if any) and builds the session; no request is made until the first call. */
  static async create(config: CloudConfig, opts: SessionOptions = {}): Promise<OpenStackSession> {
    let ca = opts.ca;
    if (ca === undefined && config.cacert !== undefined) {
      try {
        ca = await readFile(config.cacert);
      } catch (err) {
        throw configError(`${config.source}: cannot read CA bundle ${config.cacert} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    return new OpenStackSession(config, { ...opts, ...(ca !== undefined ? { ca } : {}) });
  }

  constructor(
    readonly config: CloudConfig,
    opts: SessionOptions = {}
  ) {
    this.http = new HttpClient(opts);
    this.http.secrets = () => this.secrets();
    this.cache = opts.tokenCache ?? new TokenCache();
    this.marginMs = opts.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.now = opts.now ?? Date.now;
    this.cacheKey = fingerprint(config);
  }

  /** Who authenticates where, without secrets. */
  get description(): string {
    const c = this.config;
    const who =
      c.authType === 'v3applicationcredential'
        ? `application credential ${c.applicationCredentialId ?? c.applicationCredentialName ?? ''}`
        : `user ${c.username ?? c.userId ?? ''}${c.projectName ?? c.projectId ? `, project ${c.projectName ?? c.projectId ?? ''}` : ''}`;
    return `${who} at ${c.authUrl} (${c.source})`;
  }

  /** Authentications this session performed (not counting tokens reused from the cache). */
  get authCount(): number {
    return this.auths;
  }

  /** URL of a service from the catalog (tempauth: X-Storage-Url for `object-store`). */
  async endpoint(type: string, signal?: AbortSignal): Promise<string> {
    return this.endpointOf(await this.authenticate(signal), type);
  }

  /**
   * Sends a request to a service with the token. A 401 leads to exactly one re-authentication and one retry; a second
   * 401 is an Unauthorized OpenStackError. Other statuses resolve (see `throwForStatus`); no answer rejects (Unavailable).
   */
  async request(type: string, req: ServiceRequest): Promise<HttpResponse> {
    const { path, query, headers, ...rest } = req;
    let state = await this.authenticate(req.signal);
    for (let attempt = 1; ; attempt++) {
      const url = `${this.endpointOf(state, type)}${path}${queryString(query)}`;
      const res = await this.http.send({ ...rest, url, headers: { ...headers, 'x-auth-token': state.token.reveal() } });
      if (res.status !== 401) return res;
      if (attempt >= 2) throw await this.http.errorFor(res, `${req.what} (rejected again after re-authenticating as ${this.description})`);
      await res.discard();
      if (rest.body instanceof Readable) {
        // A streamed body is spent: drop the token and let the step's retry send it again with a new one.
        this.cache.delete(this.cacheKey);
        throw new OpenStackError('Unavailable', `${req.what}: the token was rejected during a streamed upload; the upload is retried with a new token`, 401, res.requestId);
      }
      state = await this.authenticate(req.signal, state);
    }
  }

  /** Resolves for 2xx; otherwise rejects with the typed error (bounded body read, secrets redacted). */
  async throwForStatus(res: HttpResponse, what: string): Promise<HttpResponse> {
    return this.http.throwForStatus(res, what);
  }

  async errorFor(res: HttpResponse, what: string): Promise<OpenStackError> {
    return this.http.errorFor(res, what);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private endpointOf(state: AuthState, type: string): string {
    if (state.storageUrl !== undefined) {
      if (type !== 'object-store') throw configError(`${this.config.source}: tempauth (v1password) only provides the object-store endpoint, not ${type}`);
      return state.storageUrl;
    }
    try {
      return selectEndpoint(state.catalog, type, this.config.interface, this.config.region);
    } catch (err) {
      if (err instanceof OpenStackError) err.message = `${this.config.source}: ${err.message}`;
      throw err;
    }
  }

  private fresh(state: AuthState): boolean {
    if (state.expiresAt === undefined) return true;
    const margin = Math.min(this.marginMs, (state.expiresAt - state.obtainedAt) / 2);
    return this.now() < state.expiresAt - margin;
  }

  /** A valid token: the cached one, or a new one. `rejected` is a state a service answered 401 to. */
  private async authenticate(signal?: AbortSignal, rejected?: AuthState): Promise<AuthState> {
    signal?.throwIfAborted();
    const cached = this.cache.get(this.cacheKey);
    if (cached !== undefined && cached !== rejected && this.fresh(cached)) return cached;
    if (cached !== undefined && cached === rejected) this.cache.delete(this.cacheKey);
    // One login at a time per session; it is not tied to the caller's signal because other callers may share it.
    this.inflight ??= this.login().finally(() => {
      this.inflight = undefined;
    });
    return raceAbort(this.inflight, signal);
  }

  private async login(): Promise<AuthState> {
    const state = this.config.authType === 'v1password' ? await this.loginV1() : await this.loginV3();
    this.auths++;
    this.cache.set(this.cacheKey, state);
    return state;
  }

  private async loginV3(): Promise<AuthState> {
    const what = `authenticate ${this.description}`;
    const obtainedAt = this.now();
    const res = await this.http.send({
      method: 'POST',
      url: keystoneTokensUrl(this.config.authUrl),
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(keystoneAuthBody(this.config)),
      headersTimeoutMs: AUTH_HEADERS_TIMEOUT_MS,
      what,
    });
    await this.http.throwForStatus(res, what);
    const token = res.header('x-subject-token');
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    const parsed = keystoneTokenSchema.safeParse(body);
    if (!token || !parsed.success) {
      throw new OpenStackError('InvalidResponse', `${what}: Keystone answered ${res.status} without a token and its expiry`, res.status, res.requestId);
    }
    // Expiry on the local clock: obtainedAt + the lifetime Keystone gave (expires_at - issued_at, both its clock),
    // so a node whose clock is off does not hold expired tokens or re-authenticate on every call.
    const serverExpiry = Date.parse(parsed.data.token.expires_at);
    const issued = parsed.data.token.issued_at === undefined ? NaN : Date.parse(parsed.data.token.issued_at);
    const expiresAt = Number.isFinite(issued) ? obtainedAt + (serverExpiry - issued) : serverExpiry;
    const catalog: CatalogService[] = (parsed.data.token.catalog ?? []).map((s) => ({
      type: s.type,
      ...(s.name !== undefined ? { name: s.name } : {}),
      endpoints: s.endpoints.map((e) => {
        const region = e.region_id ?? e.region ?? undefined;
        return { interface: e.interface, url: e.url, ...(region !== undefined ? { region } : {}) };
      }),
    }));
    return { token: new Secret(token), obtainedAt, ...(Number.isFinite(expiresAt) ? { expiresAt } : {}), catalog };
  }

  private async loginV1(): Promise<AuthState> {
    const what = `authenticate ${this.description} (tempauth)`;
    const obtainedAt = this.now();
    const res = await this.http.send({
      method: 'GET',
      url: this.config.authUrl,
      headers: { 'x-auth-user': this.config.username ?? '', 'x-auth-key': this.config.password?.reveal() ?? '' },
      headersTimeoutMs: AUTH_HEADERS_TIMEOUT_MS,
      what,
    });
    await this.http.throwForStatus(res, what);
    await res.discard();
    const token = res.header('x-auth-token') ?? res.header('x-storage-token');
    const storageUrl = res.header('x-storage-url');
    if (!token || !storageUrl) {
      throw new OpenStackError('InvalidResponse', `${what}: the answer has no X-Auth-Token or X-Storage-Url`, res.status, res.requestId);
    }
    const ttl = Number(res.header('x-auth-token-expires'));
    return {
      token: new Secret(token),
      obtainedAt,
      ...(res.header('x-auth-token-expires') !== undefined && Number.isFinite(ttl) ? { expiresAt: obtainedAt + ttl * 1000 } : {}),
      catalog: [],
      storageUrl: storageUrl.replace(/\/+$/, ''),
    };
  }

  private *secrets(): Iterable<string> {
    const c = this.config;
    if (c.password) yield c.password.reveal();
    if (c.applicationCredentialSecret) yield c.applicationCredentialSecret.reveal();
    const cached = this.cache.get(this.cacheKey);
    if (cached) yield cached.token.reveal();
  }
}

function queryString(query?: Record<string, string | number | undefined>): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Cache key of a config: a hash, so the map holds no secret as a key. */
function fingerprint(c: CloudConfig): string {
  const plain = { ...c, password: c.password?.reveal(), applicationCredentialSecret: c.applicationCredentialSecret?.reveal() };
  return createHash('sha256').update(JSON.stringify(plain)).digest('hex');
}

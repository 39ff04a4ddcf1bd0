/**
 * A fake OpenStack on 127.0.0.1 for unit tests: Keystone v3 (password, application credential), optional Swift
 * tempauth, a catalog chosen by the test, and a handler for every service request. Service requests are checked
 * for a valid token first (a 401 that echoes the rejected token, sent before the request body is read, like
 * keystonemiddleware); the handler then gets the whole body.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Secret } from '../../activities/openstack/session';
import type { CloudConfig } from '../../activities/openstack/session';

export interface FakeServiceRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  token: string;
  body: Buffer;
}

export interface FakeOpenStackOptions {
  /** The password Keystone accepts (any user). */
  password: string;
  /** An application credential Keystone accepts. */
  appCredential?: { id: string; secret: string };
  /** Swift tempauth at /auth/v1.0; X-Storage-Url is `<base>/v1/AUTH_acct`. */
  tempauth?: { user: string; key: string };
  /** The catalog of issued tokens (`base` is the server's origin). */
  catalog(base: string): unknown[];
  /** Every other request, once its token was found valid and its body read. */
  service(req: FakeServiceRequest, res: ServerResponse): void | Promise<void>;
}

export class FakeOpenStack {
  server!: Server;
  base = '';
  keystoneAuths = 0;
  tempauthAuths = 0;
  serviceCalls = 0;
  /** Tokens services accept; clear it to revoke them all. */
  readonly valid = new Set<string>();
  /** Every token ever issued (to check none leaks into a message). */
  readonly issued: string[] = [];
  /** Lifetime of issued tokens, seconds; expires_at uses the clock below. */
  ttl = 3600;
  clock = Date.now();
  lastAuthBody: unknown;
  private next = 0;

  constructor(private readonly opts: FakeOpenStackOptions) {}

  /** A Keystone v3 password login (user alice, project demo) against this fake, with its password. */
  passwordConfig(over: Partial<CloudConfig> = {}): CloudConfig {
    return {
      source: 'test',
      authType: 'password',
      authUrl: `${this.base}/v3`,
      username: 'alice',
      userDomainName: 'Default',
      password: new Secret(this.opts.password),
      projectName: 'demo',
      projectDomainName: 'Default',
      interface: 'public',
      ...over,
    };
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake server error: ${String(err)}`);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private issue(): string {
    const token = `tok-${++this.next}-${'x'.repeat(20)}`;
    this.valid.add(token);
    this.issued.push(token);
    return token;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    res.setHeader('x-openstack-request-id', `req-${url.pathname.replace(/\W/g, '')}`);
    if (req.method === 'POST' && url.pathname === '/v3/auth/tokens') {
      this.keystoneAuths++;
      const auth = (JSON.parse((await readBody(req)).toString()) as { auth: { identity: Record<string, unknown> } }).auth;
      this.lastAuthBody = auth;
      const pw = (auth.identity.password as { user?: { password?: string } } | undefined)?.user?.password;
      const ac = auth.identity.application_credential as { id?: string; secret?: string } | undefined;
      const acOk = this.opts.appCredential !== undefined && ac?.id === this.opts.appCredential.id && ac.secret === this.opts.appCredential.secret;
      if (pw === this.opts.password || acOk) {
        res.writeHead(201, { 'content-type': 'application/json', 'x-subject-token': this.issue() });
        const issued = new Date(this.clock).toISOString();
        res.end(JSON.stringify({ token: { issued_at: issued, expires_at: new Date(this.clock + this.ttl * 1000).toISOString(), catalog: this.opts.catalog(this.base) } }));
        return;
      }
      // A careless server that echoes what it got: the client must redact it.
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: `The password ${pw ?? ac?.secret ?? ''} is wrong.` } }));
      return;
    }
    if (url.pathname === '/auth/v1.0' && this.opts.tempauth !== undefined) {
      this.tempauthAuths++;
      if (req.headers['x-auth-user'] === this.opts.tempauth.user && req.headers['x-auth-key'] === this.opts.tempauth.key) {
        res.writeHead(200, { 'x-auth-token': this.issue(), 'x-storage-url': `${this.base}/v1/AUTH_acct`, 'x-auth-token-expires': '600' });
        res.end();
      } else {
        res.writeHead(401, { 'content-type': 'text/html' });
        res.end(`<html><h1>Unauthorized</h1><p>key ${String(req.headers['x-auth-key'])}</p></html>`);
      }
      return;
    }
    this.serviceCalls++;
    const token = req.headers['x-auth-token'];
    if (typeof token !== 'string' || !this.valid.has(token)) {
      // Rejected before the body is read (the middleware answers first).
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end(`token ${String(token)} rejected`);
      return;
    }
    const body = await readBody(req);
    await this.opts.service({ method: req.method ?? 'GET', url, headers: req.headers, token, body }, res);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

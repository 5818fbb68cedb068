import type { Payload } from '@temporalio/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isTesselError } from '../../core/errors';
import { AesGcmCodec, ENCRYPTED_ENCODING } from './codec';
import type { KeyRing } from '../../core/config/encryption-keys';

/**
 * Temporal's remote codec protocol over HTTP, so the Web UI and `temporal workflow show
 * --codec-endpoint` can show decrypted payloads to whoever holds the token, and nobody else:
 *
 * - `POST …/encode`, `POST …/decode`: body and answer `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`
 *   (protobuf JSON of Temporal's Payloads). Any path prefix is accepted (`/default/decode` for an endpoint
 *   templated with `{namespace}`). Payloads that are not encrypted pass through `/decode` as they are.
 * - Authentication: `Authorization: Bearer <token>` (the CLI's `--codec-auth`), or a session cookie from
 *   signing in at `GET /` (for the Web UI with "Include cross-origin credentials"; sessions live in this
 *   process for 12 hours). Anything else gets 401.
 * - CORS: only the configured origins (the Web UI's, e.g. `http://localhost:8233`) get CORS headers, with
 *   credentials; a request from any other origin is refused (403).
 *
 * Nothing of a request's body or credentials is logged.
 */
export interface CodecServerOptions {
  ring: KeyRing;
  token: string;
  port?: number;
  host?: string;
  corsOrigins?: string[];
  /** Request bodies above this are refused (413). @default 64 MiB */
  maxBodyBytes?: number;
  /** One line per refused or failed request (never bodies or credentials). */
  log?: (line: string) => void;
}

export interface CodecServer { url: string; server: Server; close(): Promise<void> }

const SESSION_COOKIE = 'tessel_codec_session';
const SESSION_MS = 12 * 3600_000;

interface JsonPayload { metadata?: Record<string, string> | null; data?: string | null }

function fromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(String(v), 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array(0)).toString('base64') };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Starts the codec server; resolves once it listens. */
export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  if (opts.token.length < 16) throw new Error('the codec server token must be at least 16 characters');
  const codec = new AesGcmCodec(opts.ring);
  const tokenDigest = digest(opts.token);
  const origins = new Set(opts.corsOrigins ?? []);
  const sessions = new Map<string, number>(); // session id → expiry (ms since epoch)
  const maxBody = opts.maxBodyBytes ?? 64 * 2 ** 20;
  const log = opts.log ?? (() => undefined);

  const tokenMatches = (candidate: string) => timingSafeEqual(digest(candidate), tokenDigest);
  const authorized = (req: IncomingMessage): boolean => {
    const auth = req.headers.authorization;
    if (auth && /^Bearer\s+/i.test(auth) && tokenMatches(auth.replace(/^Bearer\s+/i, '').trim())) return true;
    const session = cookie(req, SESSION_COOKIE);
    const expiry = session ? sessions.get(session) : undefined;
    if (expiry !== undefined && expiry > Date.now()) return true;
    if (session) sessions.delete(session);
    return false;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log(`codec server: ${req.method} ${pathOf(req)}: ${(e as Error).message}`);
      if (!res.headersSent) send(res, 500, { message: 'internal error' });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = req.headers.origin;
    // The sign-in form posts from this server's own origin; only other origins need to be allowed.
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      if (!origins.has(origin)) {
        log(`codec server: refused a request from origin ${origin} (allowed: ${[...origins].join(', ') || 'none; see --cors-origin'})`);
        return send(res, 403, { message: `origin ${origin} is not allowed; start the codec server with --cors-origin ${origin}` });
      }
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const path = pathOf(req);
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Max-Age', '600');
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && path === '/') return sendHtml(res, 200, signInPage());
    if (req.method === 'POST' && path === '/session') {
      const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
      if (!tokenMatches(form.get('token') ?? '')) {
        log('codec server: sign-in with a wrong token');
        return sendHtml(res, 401, signInPage('Wrong token.'));
      }
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, Date.now() + SESSION_MS);
      res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${SESSION_MS / 1000}`);
      return sendHtml(res, 200, '<p>Signed in for 12 hours. Payloads now decode in the Temporal Web UI of an allowed origin.</p>');
    }
    const op = req.method === 'POST' ? /\/(encode|decode)$/.exec(path)?.[1] : undefined;
    if (!op) return send(res, 404, { message: 'not found: POST /encode or /decode' });
    if (!authorized(req)) {
      log(`codec server: refused unauthenticated ${op}`);
      res.setHeader('WWW-Authenticate', 'Bearer');
      return send(res, 401, { message: 'missing or wrong bearer token' });
    }
    let body: { payloads?: JsonPayload[] };
    try {
      body = JSON.parse((await readBody(req, maxBody)).toString('utf8')) as { payloads?: JsonPayload[] };
    } catch (e) {
      if ((e as { status?: number }).status === 413) return send(res, 413, { message: `request body over ${maxBody} bytes` });
      return send(res, 400, { message: 'body is not JSON' });
    }
    if (!body || !Array.isArray(body.payloads)) return send(res, 400, { message: "expected {\"payloads\": [...]}" });
    try {
      const payloads = body.payloads.map(fromJson);
      const out = op === 'encode' ? await codec.encode(payloads)
        : payloads.map((p) => (Buffer.from(p.metadata?.encoding ?? []).toString() === ENCRYPTED_ENCODING ? codec.decrypt(p) : p));
      send(res, 200, { payloads: out.map(toJson) });
    } catch (e) {
      if (!isTesselError(e)) throw e;
      log(`codec server: ${op}: ${e.message}`);
      send(res, 400, { message: e.message });
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8888, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '') || '/';
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.destroy();
        reject(Object.assign(new Error('body too large'), { status: 413 }));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY' })
    .end(`<!doctype html><html><head><meta charset="utf-8"><title>Tessel codec server</title></head><body>${html}</body></html>`);
}

function signInPage(error?: string): string {
  return '<h1>Tessel codec server</h1>' + (error ? `<p><strong>${error}</strong></p>` : '') +
    '<p>Sign in with the codec server token so this browser can decrypt payloads in the Temporal Web UI ' +
    '(Web UI: Data Encoder settings → this address, "Include cross-origin credentials" on).</p>' +
    '<form method="post" action="/session"><input type="password" name="token" autocomplete="off" autofocus> <button>Sign in</button></form>';
}

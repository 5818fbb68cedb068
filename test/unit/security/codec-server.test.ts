import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AesGcmCodec } from '../../../workers/encryption/codec';
import { startCodecServer, type CodecServer } from '../../../workers/encryption/codec-server';
import { parseKeyFile } from '../../../core/config/encryption-keys';
import { browserAvailable, launchBrowser } from '../../helpers/browser';

/**
 * The codec server over real HTTP: Temporal's /encode and /decode JSON, the bearer token, CORS for the
 * Web UI's origin only, and — in Chromium — signing in at the server and decoding from another origin
 * with credentials, as the Web UI does with "Include cross-origin credentials".
 */
const TOKEN = randomBytes(24).toString('base64url');
const ring = parseKeyFile(`k1 ${randomBytes(32).toString('base64')}`, 'keys');
const UI = 'http://localhost:8233';
let codec: CodecServer;
const log: string[] = [];

beforeAll(async () => {
  codec = await startCodecServer({ ring, token: TOKEN, port: 0, corsOrigins: [UI], log: (l) => log.push(l) });
});
afterAll(() => codec.close());

const b64 = (s: string) => Buffer.from(s).toString('base64');
const post = (path: string, body: unknown, headers: Record<string, string> = {}) => fetch(`${codec.url}${path}`, {
  method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body: JSON.stringify(body),
});
const auth = { Authorization: `Bearer ${TOKEN}` };
/** A payload in the codec protocol's JSON (base64 metadata values and data). */
const toWire = (p: Payload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(p.data!).toString('base64') });

it('decodes what the workers encrypt, in the JSON shape of the Temporal codec protocol', async () => {
  const [enc] = await new AesGcmCodec(ring).encode([defaultPayloadConverter.toPayload({ name: 'sample_07' })]);
  const res = await post('/decode', { payloads: [toWire(enc)] }, auth);
  expect(res.status).toBe(200);
  const out = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
  expect(Buffer.from(out.payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
  expect(JSON.parse(Buffer.from(out.payloads[0].data, 'base64').toString())).toEqual({ name: 'sample_07' });
});

it('encodes, and decodes its own output; a namespace-templated path works; plaintext passes /decode unchanged', async () => {
  const plain = { metadata: { encoding: b64('json/plain') }, data: b64('"hello"') };
  const enc = (await (await post('/encode', { payloads: [plain] }, auth)).json()) as { payloads: typeof plain[] };
  expect(Buffer.from(enc.payloads[0].metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
  const dec = (await (await post('/default/decode', { payloads: [...enc.payloads, plain] }, auth)).json()) as { payloads: typeof plain[] };
  expect(dec.payloads).toEqual([plain, plain]);
});

it('refuses a missing or wrong token, without logging either', async () => {
  expect((await post('/decode', { payloads: [] })).status).toBe(401);
  expect((await post('/decode', { payloads: [] }, { Authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
  expect(log.join('\n')).not.toContain('wrong-token');
  expect(log.join('\n')).not.toContain(TOKEN);
});

it('names the key id of a payload it cannot decrypt', async () => {
  const [foreign] = await new AesGcmCodec(parseKeyFile(`k9 ${randomBytes(32).toString('base64')}`, 'x')).encode([defaultPayloadConverter.toPayload(1)]);
  const res = await post('/decode', { payloads: [toWire(foreign)] }, auth);
  expect(res.status).toBe(400);
  expect(((await res.json()) as { message: string }).message).toMatch(/key id 'k9'/);
});

it('answers CORS preflights for the Web UI origin only', async () => {
  const preflight = (origin: string) => fetch(`${codec.url}/decode`, {
    method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace,authorization' },
  });
  const ok = await preflight(UI);
  expect(ok.status).toBe(204);
  expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
  expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
  expect(ok.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
  const evil = await preflight('http://evil.example');
  expect(evil.status).toBe(403);
  expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  expect((await post('/decode', { payloads: [] }, { ...auth, Origin: 'http://evil.example' })).status).toBe(403);
});

const browser = browserAvailable();
(browser.ok ? describe : describe.skip)('in Chromium', () => {
  let ui: Server;
  let uiUrl: string;
  beforeAll(async () => {
    // Plays the Web UI: a page on another origin that calls /decode the way the UI does.
    ui = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>ui</title>'));
    await new Promise<void>((r) => ui.listen(0, '127.0.0.1', () => r()));
    uiUrl = `http://127.0.0.1:${(ui.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => ui.close(() => r())));

  it('after signing in at the codec server, a page of an allowed origin decodes with credentials; before, it gets 401', async () => {
    const server = await startCodecServer({ ring, token: TOKEN, port: 0, corsOrigins: [uiUrl] });
    const b = await launchBrowser();
    try {
      const page = await b.newPage();
      const [enc] = await new AesGcmCodec(ring).encode([defaultPayloadConverter.toPayload('CD3 channel')]);
      const wire = { payloads: [toWire(enc)] };
      const decodeFromUi = () => page.evaluate(async ([endpoint, body]) => {
        const r = await fetch(`${endpoint}/decode`, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' }, body });
        return { status: r.status, body: await r.text() };
      }, [server.url, JSON.stringify(wire)] as const);
      await page.goto(uiUrl);
      expect((await decodeFromUi()).status).toBe(401);
      await page.goto(server.url);
      await page.fill('input[name=token]', 'not the token, obviously');
      await Promise.all([page.waitForNavigation(), page.click('button')]);
      expect(await page.textContent('body')).toMatch(/Wrong token/);
      await page.fill('input[name=token]', TOKEN);
      await Promise.all([page.waitForNavigation(), page.click('button')]);
      expect(await page.textContent('body')).toMatch(/Signed in/);
      await page.goto(uiUrl);
      const res = await decodeFromUi();
      expect(res.status).toBe(200);
      const out = JSON.parse(res.body) as { payloads: { data: string }[] };
      expect(Buffer.from(out.payloads[0].data, 'base64').toString()).toBe('"CD3 channel"');
    } finally {
      await b.close();
      await server.close();
    }
  });
});
if (!browser.ok) it.skip(browser.skipNote!, () => undefined);

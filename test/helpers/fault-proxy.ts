import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded request that passed through the proxy. */
export interface ProxiedRequest { method: string; url: string; body: Buffer; injected?: number }

/**
 * A fault to inject. `respond`: answer with `status`/`body` without contacting the server (a
 * throttled or failed request). `forward-then-fail`: send the request to the server, drop its answer
 * and reply `status` instead (a write that landed but whose response was lost).
 */
export interface FaultRule {
  match: (method: string, url: string) => boolean;
  action: 'respond' | 'forward-then-fail';
  status: number;
  body?: unknown;
  /** How many matching requests to affect. @default 1 */
  times?: number;
}

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  addRule(rule: FaultRule): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of an emulator that injects faults into chosen requests, so retry paths of
 * the real Google clients are exercised over real HTTP. Everything not matched is forwarded verbatim.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  const rules: (FaultRule & { left: number })[] = [];
  const requests: ProxiedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      const rule = rules.find((r) => r.left > 0 && r.match(method, url));
      if (rule) rule.left--;
      requests.push({ method, url, body, injected: rule?.status });
      const reply = (status: number, payload: unknown) => {
        const text = typeof payload === 'string' ? payload : JSON.stringify(payload ?? { error: { code: status, message: `injected ${status}` } });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      if (rule?.action === 'respond') return reply(rule.status, rule.body);
      const headers: IncomingHttpHeaders = { ...req.headers, host: targetUrl.host };
      const upstream = request(
        { hostname: targetUrl.hostname, port: targetUrl.port, method, path: url, headers },
        (up) => {
          if (rule?.action === 'forward-then-fail') {
            up.resume();
            up.on('end', () => reply(rule.status, rule.body));
            return;
          }
          // Location headers of resumable uploads must point back through the proxy.
          const outHeaders = { ...up.headers };
          if (typeof outHeaders.location === 'string') outHeaders.location = outHeaders.location.replace(targetUrl.origin, proxyUrl);
          res.writeHead(up.statusCode ?? 502, outHeaders);
          up.pipe(res);
        },
      );
      upstream.on('error', (e) => reply(502, { error: { code: 502, message: e.message } }));
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: proxyUrl,
    requests,
    addRule: (rule) => rules.push({ ...rule, left: rule.times ?? 1 }),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

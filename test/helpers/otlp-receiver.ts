import { createServer, type Server } from 'node:http';

/** One span as OTLP/HTTP JSON carries it (ids in hex), with the service that sent it. */
export interface ReceivedSpan {
  service: string; traceId: string; spanId: string; parentSpanId?: string; name: string;
  links: { traceId: string; spanId: string }[]; attributes: Record<string, unknown>;
}

interface OtlpJson {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: Record<string, unknown> }[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; links?: { traceId: string; spanId: string }[]; attributes?: { key: string; value: Record<string, unknown> }[] }[] }[];
  }[];
}

const value = (v: Record<string, unknown>) => Object.values(v)[0];

/**
 * An in-memory OTLP/HTTP traces endpoint on loopback (`POST /v1/traces`, JSON encoding, which is what
 * `@opentelemetry/exporter-trace-otlp-http` sends): what the worker and CLI processes export over the
 * wire lands in `spans`, to be read back by the test.
 */
export async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; stop(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/traces') || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415);
        res.end();
        return;
      }
      const msg = JSON.parse(body) as OtlpJson;
      for (const rs of msg.resourceSpans ?? []) {
        const service = String(value(rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value ?? { s: '' }));
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, name: s.name,
              links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
              attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, value(a.value)])),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

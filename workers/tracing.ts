import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Tracer } from '@opentelemetry/api';
import {
  OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, OpenTelemetryWorkflowClientInterceptor, makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { ConfigError } from '../core/errors';

/**
 * OpenTelemetry tracing of Tessel's Temporal calls, through `@temporalio/interceptors-opentelemetry`: the
 * client's start of a run, every workflow task and activity, propagated in Temporal headers. Each image
 * gets a trace of its own (its child workflow and that child's activities), linked to the run's trace
 * (see `image-traces.ts`): one trace per run of ten thousand images would be too large for any backend.
 */
export interface TracingSettings {
  spanProcessor: SpanProcessor;
  resource: Resource;
  tracer: Tracer;
  /** Flushes and stops exporting (call before the process exits). */
  shutdown(): Promise<void>;
}

/** The OTLP/HTTP traces URL: a flag, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
export function otlpTracesUrl(flag?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if ((env.OTEL_TRACES_EXPORTER ?? '').toLowerCase() === 'none') return undefined;
  const raw = flag ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`OTLP endpoint '${raw}' is not a URL (expected e.g. http://otel-collector:4318/v1/traces)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`OTLP endpoint '${raw}': only http:// or https:// (OTLP/HTTP) is supported`);
  if (flag && (url.pathname === '/' || url.pathname === '')) url.pathname = '/v1/traces';
  return url.toString();
}

/**
 * A tracer provider exporting to `url` over OTLP/HTTP in batches, registered as the process's global
 * provider with the W3C propagator and an AsyncLocalStorage context manager (the interceptors inject the
 * *active* context into Temporal headers: without a context manager there is none, and every span would
 * start a trace of its own). `processor` replaces the OTLP exporter.
 */
export function startTracing(opts: { serviceName: string; url?: string; processor?: SpanProcessor }): TracingSettings {
  const resource = new Resource({ 'service.name': process.env.OTEL_SERVICE_NAME || opts.serviceName });
  const spanProcessor = opts.processor ?? new BatchSpanProcessor(new OTLPTraceExporter(opts.url ? { url: opts.url } : {}));
  const provider = new NodeTracerProvider({ resource });
  provider.addSpanProcessor(spanProcessor);
  provider.register();
  return { spanProcessor, resource, tracer: provider.getTracer('tessel'), shutdown: () => provider.shutdown() };
}

/** Activity interceptor: one span per activity attempt, child of the workflow's schedule span. */
export function tracingActivityInterceptor(t: TracingSettings): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: t.tracer }),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  });
}

/** The sink through which workflow code (in its sandbox) hands its spans to the processor. */
export function tracingSinks(t: TracingSettings): InjectedSinks<Record<string, never>> {
  return { exporter: makeWorkflowExporter(t.spanProcessor, t.resource) } as unknown as InjectedSinks<Record<string, never>>;
}

/** Workflow interceptor modules bundled into the workflow code when tracing: Tessel's image roots, then the SDK's. */
export const TRACING_WORKFLOW_MODULES: readonly string[] = [
  require.resolve('./image-traces'),
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

/** Client interceptor: a span for each workflow start, signal and query, its context sent in the headers. */
export function tracingClientInterceptors(t?: TracingSettings): { workflow: OpenTelemetryWorkflowClientInterceptor[] } | undefined {
  return t ? { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: t.tracer })] } : undefined;
}

/**
 * Workflow interceptors (bundled into the workflow code when tracing is on; runs in the deterministic
 * sandbox, so only `@opentelemetry/api` and `@temporalio/workflow` types here): each per-image child
 * workflow starts a trace of its own under a `ProcessImage:<name>` root span that links back to the run's
 * span. Listed before the SDK's OpenTelemetry interceptors, so theirs (the child-start span and the
 * headers the child reads) run inside this root.
 */
import * as otel from '@opentelemetry/api';
import type { StartChildWorkflowExecutionInput, WorkflowInterceptorsFactory, WorkflowOutboundCallsInterceptor, Next } from '@temporalio/workflow';

/** The per-image workflow type (workflows/process-image.ts). */
const IMAGE_WORKFLOW = 'processImage';

class ImageTraceInterceptor implements WorkflowOutboundCallsInterceptor {
  async startChildWorkflowExecution(input: StartChildWorkflowExecutionInput, next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>) {
    if (input.workflowType !== IMAGE_WORKFLOW) return next(input);
    const run = otel.trace.getSpan(otel.context.active());
    const workflowId = input.options.workflowId ?? '';
    // Child ids are `<run id>--<image name>`.
    const sep = workflowId.lastIndexOf('--');
    const image = sep >= 0 ? workflowId.slice(sep + 2) : workflowId;
    const span = otel.trace.getTracer('tessel').startSpan(`ProcessImage:${image}`, {
      root: true,
      links: run ? [{ context: run.spanContext(), attributes: { 'tessel.link': 'run' } }] : [],
      attributes: { 'tessel.image': image, 'tessel.run_id': sep >= 0 ? workflowId.slice(0, sep) : '', 'temporalWorkflowId': workflowId },
    });
    try {
      // Ends once the child has been asked for: the image's work hangs below it by context, and a span
      // kept open until the child ends would be lost whenever the run continues as new meanwhile.
      return await otel.context.with(otel.trace.setSpan(otel.ROOT_CONTEXT, span), () => next(input));
    } finally {
      span.end();
    }
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new ImageTraceInterceptor()] });

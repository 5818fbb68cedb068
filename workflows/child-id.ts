/**
 * The workflow id of an image's child workflow. Workflow ids are stored and shown in plaintext by the
 * Temporal server (payload encryption cannot cover them), so with `opaque` (encryption on) the id holds
 * the image's position in the run's discovered list instead of its name: unique within the run, stable
 * on replay and across continue-as-new, and telling the server nothing about the image. Without it, the
 * name makes ids readable in the Web UI. A pure function: workflow code.
 */
export function childWorkflowId(runId: string, imageName: string, index: number, opaque: boolean | undefined): string {
  return opaque ? `${runId}--image-${index}` : `${runId}--${imageName}`;
}

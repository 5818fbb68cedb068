/** The reference model: fitted on synthetic tissue and written as ONNX with Mesmer's contract. */
export interface EnsureReferenceModelOptions {
  /** Folder holding the cached collection. @default `<repo>/.tessel/models` */
  cacheDir?: string;
  /** Human-readable progress lines (building takes tens of seconds the first time). */
  onProgress?: (message: string) => void;
}

/** Path of the reference model collection, building it first if missing. (Being implemented.) */
export async function ensureReferenceModel(_opts: EnsureReferenceModelOptions = {}): Promise<string> {
  throw new Error('ensureReferenceModel: the reference model builder is not in this checkout yet');
}

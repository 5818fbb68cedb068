import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ConfigError, InvalidArrayError } from '../errors';
import { isGcsUri, storeFor } from '../storage';

/** The label a reviewer gives a cell they cannot decide; never a class of a classifier. */
export const UNSURE = 'unsure';

/**
 * One decision of a reviewer about one cell, as `REVIEW/labels.jsonl` holds it (one JSON object a line,
 * append-only) and the static page exports it. The centroid is the one the table had when the cell was
 * labelled, in the table's units (µm, or px uncalibrated): a re-segmented image may reuse the label
 * number for another cell, and the centroid tells them apart.
 */
export const LabelDecision = z.object({
  /** The table's `Object ID` (stable for an image name and mask label). */
  cellId: z.string().min(1),
  image: z.string().min(1),
  /** Whole-cell mask label (`Name`). */
  maskLabel: z.number().int().positive(),
  x: z.number(),
  y: z.number(),
  /** A class name, {@link UNSURE}, or null: the label was cleared. */
  label: z.string().min(1).nullable(),
  /** ISO 8601 time of the decision. */
  time: z.string().min(1),
  reviewer: z.string(),
});
export type LabelDecision = z.infer<typeof LabelDecision>;

/** The JSON the static page exports and imports, and `--labels` also accepts. */
export const LabelExport = z.object({
  format: z.literal('tessel-review-labels'),
  version: z.literal(1),
  labels: z.array(LabelDecision),
});
export type LabelExport = z.infer<typeof LabelExport>;

/**
 * Parses labels: JSON lines (`labels.jsonl`) or an exported {@link LabelExport} document.
 * A last line without its newline that does not parse (a write cut short by a crash) is dropped with a
 * warning; any other bad line fails with its line number.
 * @throws InvalidArrayError naming the file and the line.
 */
export function parseLabels(text: string, file: string): { decisions: LabelDecision[]; warnings: string[] } {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') && /"format"\s*:\s*"tessel-review-labels"/.test(trimmed.slice(0, 200))) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new InvalidArrayError(file, `not valid JSON (${(e as Error).message})`);
    }
    const parsed = LabelExport.safeParse(raw);
    if (!parsed.success) throw new InvalidArrayError(file, `not a label export: ${issues(parsed.error)}`);
    return { decisions: parsed.data.labels, warnings: [] };
  }
  const decisions: LabelDecision[] = [];
  const warnings: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const last = i === lines.length - 1; // no newline after it
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      if (last) {
        warnings.push(`${file}: line ${i + 1} is cut short (an interrupted write?); ignored`);
        continue;
      }
      throw new InvalidArrayError(file, `line ${i + 1} is not JSON (${(e as Error).message})`);
    }
    const parsed = LabelDecision.safeParse(raw);
    if (!parsed.success) throw new InvalidArrayError(file, `line ${i + 1} is not a label decision: ${issues(parsed.error)}`);
    decisions.push(parsed.data);
  }
  return { decisions, warnings };
}

function issues(e: z.ZodError): string {
  return e.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Reads labels from a URI (JSON lines or an export); a missing file is no labels. */
export async function readLabels(uri: string): Promise<{ decisions: LabelDecision[]; warnings: string[] }> {
  const store = storeFor(uri);
  if (!(await store.stat(uri))) return { decisions: [], warnings: [] };
  return parseLabels(Buffer.from(await store.readAll(uri)).toString('utf8'), uri);
}

/**
 * Each cell's current label: its latest decision (by time; for equal times the later one in the list).
 * Cells whose latest decision cleared the label are absent.
 */
export function foldLabels(decisions: readonly LabelDecision[]): Map<string, LabelDecision> {
  const latest = new Map<string, LabelDecision>();
  for (const d of decisions) {
    const prior = latest.get(d.cellId);
    if (!prior || d.time >= prior.time) latest.set(d.cellId, d);
  }
  for (const [id, d] of latest) if (d.label === null) latest.delete(id);
  return latest;
}

/**
 * The append-only label file of a served review (`REVIEW/labels.jsonl`). Every batch of decisions is one
 * `appendFile` (O_APPEND: the kernel positions each write at the end, so two servers on one workspace
 * interleave whole batches, never bytes of each other's lines), and writes from this process go one at a
 * time. Readers follow the file by byte offset, so each browser also sees what others label.
 */
export class LabelStore {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(readonly path: string) {}

  /**
   * Opens (creating the folder of) a local label file.
   * @throws ConfigError for a gs:// location: appending needs a local file.
   */
  static async open(path: string): Promise<LabelStore> {
    if (isGcsUri(path)) throw new ConfigError(`labels must be a local file (appended as they are made), got ${path}; pass --labels <local path>`);
    await fs.mkdir(dirname(path), { recursive: true });
    return new LabelStore(path);
  }

  /** Appends decisions (validated first: nothing is written when one is malformed). */
  async append(decisions: readonly LabelDecision[]): Promise<void> {
    const lines = decisions.map((d) => JSON.stringify(LabelDecision.parse(d)) + '\n').join('');
    const run = this.chain.then(() => (lines ? fs.appendFile(this.path, lines, { flag: 'a' }) : undefined));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Decisions written after byte `offset` (0: all), and the offset to ask from next time. */
  async since(offset: number): Promise<{ decisions: LabelDecision[]; offset: number; warnings: string[] }> {
    await this.chain;
    let text: string;
    try {
      const fh = await fs.open(this.path, 'r');
      try {
        const { size } = await fh.stat();
        const start = Math.min(Math.max(0, offset), size);
        const buf = Buffer.alloc(size - start);
        await fh.read(buf, 0, buf.length, start);
        text = buf.toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { decisions: [], offset: 0, warnings: [] };
      throw e;
    }
    // Only whole lines: a batch another server is writing right now is read next time.
    const end = text.lastIndexOf('\n') + 1;
    const { decisions, warnings } = parseLabels(text.slice(0, end), this.path);
    return { decisions, offset: Math.max(0, offset) + Buffer.byteLength(text.slice(0, end)), warnings };
  }
}

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidArrayError } from '../errors';

/** QuPath version written into new projects (the project format is unchanged since 0.2). */
export const QPPROJ_VERSION = '0.6.0';

const ImageEntry = z.looseObject({
  serverBuilder: z.looseObject({
    builderType: z.string(),
    providerClassName: z.string().optional(),
    uri: z.string(),
    args: z.array(z.string()).optional(),
  }),
  entryID: z.number().int(),
  randomizedName: z.string(),
  imageName: z.string(),
});

const Project = z.looseObject({
  version: z.string(),
  createTimestamp: z.number(),
  modifyTimestamp: z.number(),
  uri: z.string().optional(),
  lastID: z.number().int(),
  images: z.array(ImageEntry),
});
export type QuPathProject = z.infer<typeof Project>;

export interface UpsertOptions {
  /** `file:` URI of the project file itself (QuPath rewrites it when the project moves). */
  projectUri?: string;
  /** Clock, for tests. @default Date.now() */
  now?: number;
}

/**
 * Adds an image to a QuPath project file (`project.qpproj`), creating the project when
 * `existingJson` is undefined. The entry uses QuPath's Bio-Formats URI server builder, as QuPath
 * writes it when an OME-TIFF is added through *Add images*. Idempotent: when an entry with the same
 * server URI exists, the input is returned unchanged (byte for byte). `randomizedName` (QuPath's
 * per-entry data folder name) is derived from the URI so it is stable too. Unknown fields in an
 * existing project are kept. A malformed project is an {@link InvalidArrayError}.
 */
export function upsertProjectEntry(existingJson: string | undefined, image: { uri: string; name: string }, opts: UpsertOptions = {}): string {
  return upsertProjectEntries(existingJson, [image], opts);
}

/**
 * {@link upsertProjectEntry} for many images at once: the project is parsed and written once, so adding
 * ten thousand images is linear (one call per image re-parsed and re-serialised the growing project:
 * minutes at that size). Images already present (by server URI) are skipped; when none is new the
 * input is returned unchanged.
 */
export function upsertProjectEntries(existingJson: string | undefined, images: readonly { uri: string; name: string }[], opts: UpsertOptions = {}): string {
  const now = opts.now ?? Date.now();
  const fresh = existingJson === undefined || existingJson.trim() === '';
  let project: QuPathProject;
  if (fresh) {
    project = { version: QPPROJ_VERSION, createTimestamp: now, modifyTimestamp: now, uri: opts.projectUri, lastID: 0, images: [] };
    if (!opts.projectUri) delete project.uri;
  } else {
    let raw: unknown;
    try {
      raw = JSON.parse(existingJson!);
    } catch (e) {
      throw new InvalidArrayError(opts.projectUri ?? 'project.qpproj', `not valid JSON: ${(e as Error).message}`);
    }
    const parsed = Project.safeParse(raw);
    if (!parsed.success) {
      throw new InvalidArrayError(opts.projectUri ?? 'project.qpproj', `not a QuPath project: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    project = parsed.data;
  }
  const present = new Set(project.images.map((e) => e.serverBuilder.uri));
  let lastID = project.images.reduce((m, e) => Math.max(m, e.entryID), project.lastID);
  let added = 0;
  for (const image of images) {
    if (present.has(image.uri)) continue;
    present.add(image.uri);
    project.images.push({
      serverBuilder: {
        builderType: 'uri',
        providerClassName: 'qupath.lib.images.servers.bioformats.BioFormatsServerBuilder',
        uri: image.uri,
        args: [],
      },
      entryID: ++lastID,
      randomizedName: stableUuid(image.uri),
      imageName: image.name,
    });
    added++;
  }
  if (added === 0 && !fresh) return existingJson!;
  project.lastID = lastID;
  project.modifyTimestamp = now;
  return JSON.stringify(project, null, 2) + '\n';
}

/** A v4-shaped UUID derived from a string (QuPath only needs it unique per entry). */
function stableUuid(s: string): string {
  const h = createHash('sha256').update(s).digest();
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

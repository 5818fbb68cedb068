import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from '../../core/errors';
import { areaFilters, parseFilter, Review, serveReview, writeStaticReview } from '../../core/review';
import { isGcsUri, joinUri } from '../../core/storage';
import { collectList } from '../run-input';

interface ReviewCliOptions {
  imageFilter: string[]; sampleFraction: number; perPage: number; channels?: string; class: string[]; where: string[];
  minArea?: number; maxArea?: number; seed: number; windowUm: number; serve?: boolean; port: number; host: string;
  labels?: string; out?: string; reviewer?: string;
}

const number = (flag: string, test: (n: number) => boolean, what: string) => (v: string): number => {
  const n = Number(v);
  if (!test(n)) throw new ConfigError(`${flag} must be ${what}, got '${v}'`);
  return n;
};
const repeat = (v: string, prev: string[] = []) => prev.concat(v);

export function register(program: Command): void {
  program.command('review')
    .description('Review cells in the browser: pages of cell crops (whole-cell outline over a false-colour composite, scale bar) ' +
      'from a sample taken across every completed image of a workspace, labelled with the keyboard.\n' +
      'Static (default): writes REVIEW/pages/page-NNNN.html with lazy-loaded JPEG crops; labels stay in the browser (localStorage) ' +
      'and Export/Import move them as JSON. --serve: serves the pages and appends every label to REVIEW/labels.jsonl as it is made ' +
      '(several browsers may label at once), retrains a classifier on demand (t) and fetches the cells it is least sure of (f).\n' +
      'Keys: 1–9 the classes, u unsure, x clear, arrows move, n/p pages, o outlines, ? help. Train a classifier with tessel classify train.')
    .argument('<workspace>', 'workspace root (local path or gs://) after tessel run workspace: OMETIFF/, SEGMASK/, REPORTS/')
    .option('--image-filter <patterns>', 'only images whose name starts with this prefix or matches this glob; comma-separated for several', collectList, [])
    .option('--sample-fraction <f>', 'fraction of every image\'s cells in the sample (0–1]', number('--sample-fraction', (n) => n > 0 && n <= 1, 'in (0, 1]'), 0.1)
    .option('--per-page <n>', 'cells per page', number('--per-page', (n) => Number.isInteger(n) && n >= 1 && n <= 2000, 'an integer 1–2000'), 300)
    .option('--channels <list>', 'channels of the composite, names or indices, comma-separated (colours: blue, green, red, magenta, yellow, cyan, orange); default: the nuclear stain and the next three markers')
    .option('--class <name>', 'a class to label (repeat, in key order 1, 2, …); default: positive, negative', repeat, [])
    .option('--min-area <µm²>', 'only cells with at least this area (µm², px² when uncalibrated)', number('--min-area', (n) => n >= 0, 'a number ≥ 0'))
    .option('--max-area <µm²>', 'only cells with at most this area', number('--max-area', (n) => n >= 0, 'a number ≥ 0'))
    .option('--where <condition>', "only cells meeting a condition on any measurement, e.g. 'Cell: CD3: Mean > 200' (repeat for several)", repeat, [])
    .option('--seed <k>', 'seed of the sample (the same seed and fraction give the same cells)', number('--seed', Number.isInteger, 'an integer'), 1)
    .option('--window-um <µm>', 'side of a crop in µm (larger cells get larger crops)', number('--window-um', (n) => n >= 4, 'a number ≥ 4'), 32)
    .option('--serve', 'serve the review instead of writing static pages')
    .option('--port <n>', 'port for --serve (0: any free port)', number('--port', (n) => Number.isInteger(n) && n >= 0 && n < 65536, 'a port number'), 8765)
    .option('--host <addr>', 'address for --serve to listen on (0.0.0.0 exposes it to the network)', '127.0.0.1')
    .option('--labels <file>', 'label file for --serve (local; appended to)', undefined)
    .option('--out <dir>', 'folder for the static pages (default: <workspace>/REVIEW/pages)')
    .option('--reviewer <name>', 'name recorded with every label (default: your user name)')
    .action(async (root: string, o: ReviewCliOptions) => {
      const filters = [...areaFilters(o.minArea, o.maxArea), ...o.where.map(parseFilter)];
      const channels = o.channels?.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const reviewer = o.reviewer ?? safeUser();
      const t0 = Date.now();
      const review = await Review.open({
        root, imageFilter: o.imageFilter, sampleFraction: o.sampleFraction, perPage: o.perPage, channels, classes: o.class,
        filters, seed: o.seed, windowUm: o.windowUm, reviewer,
      });
      for (const i of review.incomplete) process.stderr.write(`skipping ${i.name}: not segmented and measured yet (missing ${i.missing})\n`);
      process.stderr.write(`${review.index.images.length} image(s), ${review.index.cells.length} cells after filters, ${review.sample.length} sampled ` +
        `(${(o.sampleFraction * 100).toFixed(1)}%), ${review.pages} page(s) of ${o.perPage}\n`);
      if (review.sample.length === 0) process.stderr.write('warning: the sample is empty; raise --sample-fraction or loosen the filters\n');
      if (o.serve) {
        const labelsPath = o.labels ?? (isGcsUri(root) ? undefined : joinUri(resolve(root), 'REVIEW', 'labels.jsonl'));
        if (!labelsPath) throw new ConfigError('a gs:// workspace needs --labels <local file> for --serve (labels are appended as they are made)');
        const server = await serveReview(review, { labelsPath, port: o.port, host: o.host });
        process.stdout.write(`review at ${server.url} (labels: ${labelsPath}); Ctrl-C to stop\n`);
        await new Promise<void>((done) => {
          const stop = () => void server.close().then(() => review.close()).then(done);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        return;
      }
      const dir = o.out ?? joinUri(isGcsUri(root) ? root : resolve(root), 'REVIEW', 'pages');
      const tty = process.stderr.isTTY === true;
      try {
        const out = await writeStaticReview(review, dir, (done, total) => {
          if (tty) process.stderr.write(`\rreview: page ${done}/${total}${done === total ? '\n' : ''}`);
        });
        const maxMb = Math.max(...out.pageBytes) / 1e6;
        process.stdout.write(`wrote ${out.pages} page(s), ${out.cells} cells, to ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
          `(largest page ${maxMb.toFixed(2)} MB with its crops); open ${joinUri(dir, 'index.html')}\n`);
      } finally {
        await review.close();
      }
    });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isTesselError } from '../errors';
import { ActiveLearner } from './active';
import type { Crop } from './crops';
import { foldLabels, LabelDecision, LabelStore, UNSURE } from './labels';
import { renderPage, type PageCell } from './page';
import type { ReviewCell } from './sample';
import type { Review } from './session';

/** A running review server. */
export interface ReviewServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Crops kept in memory (≈3–6 KB each). */
const CROP_CACHE = 5000;
/** Largest request body accepted (a big import). */
const MAX_BODY = 32 << 20;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * Serves a review: the page, crops rendered on demand, and a small JSON API. Every decision is appended
 * to the label file as it arrives (`POST /api/labels`), and each answer carries what other browsers
 * labelled since the caller last asked, so two browsers on one workspace see each other's work and
 * overwrite nothing. `POST /api/train` retrains on the labels so far; `GET /api/uncertain` returns the
 * cells the classifier is least sure of. Listens on `host` (default 127.0.0.1: the review is not
 * exposed to the network unless asked).
 */
export async function serveReview(review: Review, opts: { labelsPath: string; port?: number; host?: string }): Promise<ReviewServer> {
  const store = await LabelStore.open(opts.labelsPath);
  const learner = new ActiveLearner(review.index, review.opts.classes);
  const crops = new Map<string, Crop>();
  const allowed = new Set([...review.opts.classes, UNSURE]);
  const byImageLabel = new Map(review.index.cells.map((c) => [`${c.image}/${c.label}`, c]));

  const cropOf = async (cell: ReviewCell): Promise<Crop> => {
    let c = crops.get(cell.id);
    if (!c) {
      c = await review.crop(cell);
      crops.set(cell.id, c);
      if (crops.size > CROP_CACHE) crops.delete(crops.keys().next().value as string);
    }
    return c;
  };
  const pageCells = async (cells: ReviewCell[]): Promise<PageCell[]> => {
    const out: PageCell[] = [];
    for (const cell of cells) out.push(await review.pageCell(cell, await cropOf(cell), `crop/${encodeURIComponent(cell.image)}/${cell.label}.jpg`));
    return out;
  };
  const labelsSoFar = async () => foldLabels((await store.since(0)).decisions);

  const routes: Record<string, (req: IncomingMessage, url: URL) => Promise<unknown>> = {
    'GET /api/state': async () => {
      const all = await store.since(0);
      return { offset: all.offset, decisions: all.decisions, pages: review.pages, sampled: review.sample.length, history: learner.history, reviewer: review.opts.reviewer };
    },
    'GET /api/page': async (_req, url) => {
      const n = Number(url.searchParams.get('n') ?? '1');
      if (!Number.isInteger(n) || n < 1 || n > review.pages) throw new HttpError(400, `page ${url.searchParams.get('n')} does not exist (1–${review.pages})`);
      return { page: n, pages: review.pages, sampled: review.sample.length, cells: await pageCells(review.pageCells(n)) };
    },
    'GET /api/labels': async (_req, url) => store.since(Number(url.searchParams.get('since') ?? '0') || 0),
    'POST /api/labels': async (req) => {
      const body = await readJson(req) as { decisions?: unknown; since?: unknown };
      if (!Array.isArray(body.decisions)) throw new HttpError(400, 'expected {"decisions": [...]}');
      const decisions: LabelDecision[] = body.decisions.map((raw, i) => {
        const p = LabelDecision.safeParse(raw);
        if (!p.success) throw new HttpError(400, `decision ${i + 1} is malformed: ${p.error.issues[0]?.path.join('.')}: ${p.error.issues[0]?.message}`);
        if (p.data.label !== null && !allowed.has(p.data.label)) throw new HttpError(400, `decision ${i + 1}: unknown class '${p.data.label}'; this review's classes: ${review.opts.classes.join(', ')} (and ${UNSURE})`);
        return p.data;
      });
      // A browser resends what it had not seen acknowledged (a reload mid-send): each decision is stored once.
      const seen = new Set((await store.since(0)).decisions.map(decisionKey));
      await store.append(decisions.filter((d) => !seen.has(decisionKey(d))));
      return store.since(typeof body.since === 'number' ? body.since : 0);
    },
    'POST /api/train': async () => {
      const round = learner.retrain(await labelsSoFar());
      return { round, history: learner.history };
    },
    'GET /api/uncertain': async (_req, url) => {
      if (!learner.classifier) throw new HttpError(409, 'no classifier yet: label cells of two classes or more, then Retrain (t)');
      const n = Math.min(1000, Math.max(1, Number(url.searchParams.get('n') ?? review.opts.perPage) || review.opts.perPage));
      const picked = learner.leastSure(n, await labelsSoFar());
      const cells = await pageCells(picked.map((p) => p.cell));
      cells.forEach((c, i) => Object.assign(c, { predicted: picked[i].predicted, probability: picked[i].probability }));
      return { round: learner.history.length, cells };
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://review');
    try {
      if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
        return send(res, 200, 'text/html; charset=utf-8', renderPage(await review.pageConfig('served', 1)));
      }
      const crop = /^\/crop\/([^/]+)\/(\d+)\.jpg$/.exec(url.pathname);
      if (req.method === 'GET' && crop) {
        const image = decodeURIComponent(crop[1]);
        const cell = byImageLabel.get(`${image}/${Number(crop[2])}`);
        if (!cell) throw new HttpError(404, `no cell ${crop[2]} in ${image}`);
        res.setHeader('cache-control', 'max-age=3600');
        return send(res, 200, 'image/jpeg', Buffer.from((await cropOf(cell)).jpeg));
      }
      const route = routes[`${req.method} ${url.pathname}`];
      if (!route) throw new HttpError(404, `no ${req.method} ${url.pathname}`);
      return send(res, 200, 'application/json', JSON.stringify(await route(req, url)));
    } catch (e) {
      const status = e instanceof HttpError ? e.status : isTesselError(e) && !e.retryable ? 400 : 500;
      return send(res, status, 'application/json', JSON.stringify({ error: (e as Error).message }));
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8765, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** What makes a decision the same one again: cell, time, reviewer and label. */
function decisionKey(d: LabelDecision): string {
  return `${d.cellId}\u0000${d.time}\u0000${d.reviewer}\u0000${d.label}`;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY >> 20} MiB`);
    parts.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `body is not JSON (${(e as Error).message})`);
  }
}

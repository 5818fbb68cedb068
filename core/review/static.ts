import { joinUri, storeFor } from '../storage';
import { renderPage, type PageCell } from './page';
import type { Review } from './session';

/** What a static export wrote: pages, crops, and the bytes a browser loads per page. */
export interface StaticExport {
  dir: string;
  pages: number;
  cells: number;
  /** Per page: the HTML's bytes plus its crops' bytes (everything it loads). */
  pageBytes: number[];
}

/** `page-0001.html` … */
export function pageFile(n: number): string {
  return `page-${String(n).padStart(4, '0')}.html`;
}

/**
 * Writes the sample as static pages into `dir`: `page-NNNN.html` (self-contained: CSS, script and the
 * page's cells inline), `index.html` (= page 1) and `crops/<image>/<label>.jpg`, every file atomically.
 * Labels stay in the browser's localStorage (one store for all pages of the review) until exported.
 * `onPage` reports progress.
 */
export async function writeStaticReview(review: Review, dir: string, onPage?: (done: number, total: number) => void): Promise<StaticExport> {
  const pageFiles = Array.from({ length: review.pages }, (_, i) => pageFile(i + 1));
  const pageBytes: number[] = [];
  let cells = 0;
  for (let p = 1; p <= review.pages; p++) {
    const page: PageCell[] = [];
    let bytes = 0;
    for (const cell of review.pageCells(p)) {
      const crop = await review.crop(cell);
      const rel = `crops/${encodeURIComponent(cell.image)}/${cell.label}.jpg`;
      const uri = joinUri(dir, 'crops', cell.image, `${cell.label}.jpg`);
      await storeFor(uri).writeAtomic(uri, crop.jpeg);
      bytes += crop.jpeg.length;
      page.push(await review.pageCell(cell, crop, rel));
    }
    const html = renderPage({ ...(await review.pageConfig('static', p)), cells: page, pageFiles });
    await storeFor(dir).writeAtomic(joinUri(dir, pageFiles[p - 1]), html);
    if (p === 1) await storeFor(dir).writeAtomic(joinUri(dir, 'index.html'), html);
    pageBytes.push(bytes + Buffer.byteLength(html));
    cells += page.length;
    onPage?.(p, review.pages);
  }
  return { dir, pages: review.pages, cells, pageBytes };
}

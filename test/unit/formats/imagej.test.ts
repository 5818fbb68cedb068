import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLabelMaskTiff } from '../../../core/formats/tiff-write';
import { javaJar, weightedSum } from '../../helpers/java';

// ImageJ 1.x itself (net.imagej:ij from Maven Central, fetched by `node infra/bootstrap.mjs --test` where
// Maven is installed) opens the masks Tessel writes, as File > Open would.
const root = join(__dirname, '..', '..', '..');
// Skipped, and said so, where Java or the jar is missing (no Maven, or Maven Central unreachable: bootstrap warns).
const jar = javaJar('ij.jar', 'ImageJ', 'bootstrap fetches it with mvn');
const maybe = jar ? it : it.skip;

function labels(width: number, height: number): Int32Array {
  const data = new Int32Array(width * height);
  // Large and sparse labels, including values past 2^16 and zeros.
  for (let i = 0; i < data.length; i++) data[i] = i % 7 === 0 ? 0 : ((i * 2654435761) >>> 0) % 5_000_000;
  return data;
}

describe('ImageJ 1.x reads Tessel label masks', () => {
  maybe('strip masks (what Tessel writes up to 2048 px a side) open pixel-exact as 32-bit images', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessel-imagej-'));
    try {
      const cases = [[300, 200], [2048, 33], [17, 1024]] as const;
      const expected = cases.map(([w, h], k) => {
        const data = labels(w, h);
        const file = join(dir, `mask${k}.tif`);
        writeFileSync(file, encodeLabelMaskTiff({ data, width: w, height: h }));
        return `${file} ${w} ${h} 32 ${weightedSum(data)}`;
      });
      const r = spawnSync('java', ['-Djava.awt.headless=true', '-cp', jar!, join(root, 'test', 'fixtures', 'java', 'ReadMask.java'),
        ...cases.map((_, k) => join(dir, `mask${k}.tif`))], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

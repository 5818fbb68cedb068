import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpz } from '../../../core/formats/npz';
import { bundleModelCollection } from '../../../core/model/collection';
import { tessel } from '../../helpers/cluster';
import { makeTestModel, tempDir } from './helpers';

/**
 * docs/gpu.md's check, `tessel predict … --device cuda`, on a host without the CUDA provider (CI, this
 * machine): one line in Tessel's words, exit 1, and not also onnxruntime's own red native log line. Where
 * the provider does load, the prediction simply succeeds.
 */
it('names a missing CUDA provider in one line, without onnxruntime\'s native log line', async () => {
  const dir = tempDir('cuda');
  try {
    const model = makeTestModel(dir, 'linear');
    writeFileSync(join(dir, 'linear-meta.json'), JSON.stringify(model.metadata));
    await bundleModelCollection({ onnxPath: model.uri, metadataPath: join(dir, 'linear-meta.json'), out: join(dir, 'model.zip') });
    await writeNpz(join(dir, 'img.npz'), { input_channels: { dtype: 'float32', shape: [64, 64, 2], data: new Float32Array(64 * 64 * 2).fill(0.5) } });
    const r = await tessel(['predict', join(dir, 'img.npz'), '--model', join(dir, 'model.zip'), '--out', join(dir, 'raw.npz'), '--device', 'cuda']);
    if (r.code === 0) return; // a GPU host with the CUDA build: nothing to report
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessel: .*model\.zip: CUDA execution provider unavailable \(.*\); install onnxruntime-node's CUDA build .*docs\/gpu\.md/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\[E:onnxruntime|\x1b\[/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

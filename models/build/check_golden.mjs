// Runs every golden.json case with onnxruntime-node and reports the max abs difference per output.
// Usage: node models/build/check_golden.mjs [ORT_PATH]  (optional; only a build-time convenience —
// the repo's own test suite checks the same files).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ortPath = process.argv[2] ?? path.join(here, '../../node_modules/.pnpm/onnxruntime-node@1.30.0/node_modules/onnxruntime-node');
const ort = require(ortPath);
let worst = 0;
for (const packName of ['shapes-32', 'shapes-32-flow']) {
  const dir = path.join(here, '..', packName);
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8'));
  for (const [name, g] of Object.entries(golden.models)) {
    const sess = await ort.InferenceSession.create(path.join(dir, g.file), { intraOpNumThreads: 1 });
    const feeds = {};
    for (const [k, v] of Object.entries(g.inputs)) {
      const arr = v.type === 'int32' ? Int32Array.from(v.data) : Float32Array.from(v.data);
      feeds[k] = new ort.Tensor(v.type, arr, v.dims);
    }
    const out = await sess.run(feeds);
    for (const [k, v] of Object.entries(g.outputs)) {
      const o = out[k];
      let d = 0;
      if (JSON.stringify(o.dims) !== JSON.stringify(v.dims)) d = Infinity;
      else for (let i = 0; i < v.data.length; i++) d = Math.max(d, Math.abs(o.data[i] - v.data[i]));
      worst = Math.max(worst, d);
      console.log(`${packName} ${name}.${k} dims ${o.dims} max abs diff ${d.toExponential(2)}`);
    }
  }
}
console.log('worst', worst);
// latency: one UNet call at batch 2 (a CFG pair), one intra-op thread
for (const packName of ['shapes-32', 'shapes-32-flow']) {
  const sess = await ort.InferenceSession.create(path.join(here, '..', packName, 'unet/model.onnx'),
    { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const feeds = {
    sample: new ort.Tensor('float32', new Float32Array(2 * 4 * 8 * 8).fill(0.1), [2, 4, 8, 8]),
    timestep: new ort.Tensor('float32', Float32Array.from([500]), [1]),
    encoder_hidden_states: new ort.Tensor('float32', new Float32Array(2 * 16 * 64).fill(0.01), [2, 16, 64]),
  };
  for (let i = 0; i < 20; i++) await sess.run(feeds);
  const ts = [];
  for (let i = 0; i < 200; i++) { const t0 = performance.now(); await sess.run(feeds); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log(`${packName} unet batch 2, 1 thread: median ${ts[100].toFixed(2)} ms, p10 ${ts[20].toFixed(2)}, p90 ${ts[180].toFixed(2)}`);
}
process.exit(worst < 1e-4 ? 0 : 1);

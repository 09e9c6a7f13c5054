/**
 * One measured step of the large-model bench, in a process of its own so its peak RSS is its own:
 * `baseline` (imports and onnxruntime loaded, a tiny model served), `register <file>` or
 * `get` (a `PredictorPool` loads version 1, warms it up and answers one prediction) or `get-unpacked`
 * (the same with onnxruntime's weight prepacking off). Prints one JSON line.
 */
import { ModelRegistry } from '../../src/index.js';
import { FileSystemStorage } from '../../src/index.js';
import { OnnxPredictor, PredictorPool } from '../../src/index.js';
import { regression } from '../../test/fixtures/onnx-models.js';

const [mode, dir, file] = process.argv.slice(2);
const registry = new ModelRegistry({ storage: new FileSystemStorage(dir as string) });
const start = performance.now();
let detail: Record<string, unknown> = {};
if (mode === 'baseline') {
  const predictor = await OnnxPredictor.create(regression());
  await predictor.predict([1, 2, 3]);
  await predictor.dispose();
} else if (mode === 'register') {
  const version = await registry.register('large', file as string);
  detail = { version: version.version, size: version.size };
} else if (mode === 'get' || mode === 'get-unpacked') {
  // get-unpacked: onnxruntime's weight prepacking off (a packed copy of every MatMul weight otherwise).
  const pool =
    mode === 'get'
      ? new PredictorPool({ registry })
      : new PredictorPool({
          registry,
          createFromFile: (f, v) => OnnxPredictor.create(f, { name: v.name, version: v.version, sessionOptions: { extra: { session: { disable_prepacking: '1' } } } }),
        });
  const predictor = await pool.get('large', 1);
  const input = predictor.signature?.inputs[0]?.name === 'x' ? new Float32Array(predictor.signature.inputs[0].shape[1] as number).fill(1) : [0, 7];
  const output = await predictor.predict(input);
  detail = { dims: output.y?.dims };
  await pool.dispose();
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}
const ms = performance.now() - start;
console.log(JSON.stringify({ mode, ms, maxRssBytes: process.resourceUsage().maxRSS * 1024, ...detail }));

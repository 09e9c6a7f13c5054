/**
 * One measured step of the large-model bench, in a process of its own so its peak RSS is its own:
 * `baseline` (imports and onnxruntime loaded, a tiny model served), `register <file>` or
 * `get` (a `PredictorPool` loads version 1 and answers one prediction). Prints one JSON line.
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
} else if (mode === 'get') {
  const pool = new PredictorPool({ registry });
  const predictor = await pool.get('large', 1);
  const output = await predictor.predict([0, 7]);
  detail = { dims: output.y?.dims };
  await pool.dispose();
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}
const ms = performance.now() - start;
console.log(JSON.stringify({ mode, ms, maxRssBytes: process.resourceUsage().maxRSS * 1024, ...detail }));

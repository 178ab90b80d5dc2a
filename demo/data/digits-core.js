/**
 * The digits data set's shapes and batching, without any loading: shared by the Node
 * loader (demo/data/digits.js) and the browser page (demo/web/digits.js).
 */
import { shuffle as shuffleInPlace, xorshift as rng32 } from "./random.js";

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

/**
 * Digits from the ten per-class arrays of grey levels (raws[d]: 784 values per digit of
 * class d): [{ pixels: Float32Array(784) (a view into one big array), label }].
 */
export function digitsFromRaw(raws) {
  let total = 0;
  raws.forEach((raw, d) => {
    if (raw.length % PIXELS !== 0) throw new Error(`digits: the file of ${d}s holds ${raw.length} values, not a multiple of ${PIXELS}`);
    total += raw.length / PIXELS;
  });
  const all = new Float32Array(total * PIXELS);
  const digits = [];
  let at = 0;
  raws.forEach((raw, d) => {
    all.set(raw, at * PIXELS);
    for (let i = 0; i < raw.length / PIXELS; i++, at++) digits.push({ pixels: all.subarray(at * PIXELS, (at + 1) * PIXELS), label: d });
  });
  return digits;
}

/** A seeded generator of uniform numbers in [0, 1) (xorshift32), and a Fisher–Yates shuffle in place. */
export { rng32, shuffleInPlace };

/**
 * A stratified split: the same share of each class in both parts, shuffled with a seed.
 * Returns { train, test }, each { x: Float32Array (n × 784), labels: Uint8Array, n }.
 */
export function splitDigits(digits, testFraction = 0.2, seed = 1) {
  const rng = rng32(seed);
  const train = [];
  const test = [];
  for (let d = 0; d < 10; d++) {
    const ofClass = shuffleInPlace(digits.filter((g) => g.label === d), rng);
    const nTest = Math.round(ofClass.length * testFraction);
    test.push(...ofClass.slice(0, nTest));
    train.push(...ofClass.slice(nTest));
  }
  shuffleInPlace(train, rng);
  shuffleInPlace(test, rng);
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

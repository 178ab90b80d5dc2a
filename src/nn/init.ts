/**
 * Parameter initialisation. Fan-in/fan-out follow the layout y = x·W, W of shape
 * [fanIn, fanOut] (a [n] vector: fanIn = fanOut = n; more dimensions: the last is fanOut,
 * the product of the others fanIn).
 */
import { Rng } from "../runtime/random.js";
import type { Shape } from "../runtime/shape.js";

export type InitName = "zeros" | "ones" | "normal" | "uniform" | "xavier" | "glorot" | "he" | "kaiming";
export const INIT_NAMES: readonly InitName[] = ["zeros", "ones", "normal", "uniform", "xavier", "glorot", "he", "kaiming"];

export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  const fanOut = shape[shape.length - 1]!;
  let fanIn = 1;
  for (let i = 0; i < shape.length - 1; i++) fanIn *= shape[i]!;
  return { fanIn, fanOut };
}

/**
 * Fills `out` by the named scheme:
 * - zeros, ones;
 * - normal: N(0, std²), std = 0.01 unless given; uniform: U(−a, a), a = 0.05 unless given;
 * - xavier/glorot (Glorot & Bengio 2010): U(−a, a) with a = √(6 / (fanIn + fanOut));
 * - he/kaiming (He et al. 2015, for ReLU nets): N(0, 2 / fanIn).
 */
export function initValues(out: Float32Array, shape: Shape, scheme: InitName, seed: number, std?: number): void {
  const rng = new Rng(seed);
  const { fanIn, fanOut } = fans(shape);
  switch (scheme) {
    case "zeros":
      out.fill(0);
      return;
    case "ones":
      out.fill(1);
      return;
    case "normal": {
      const s = std ?? 0.01;
      for (let i = 0; i < out.length; i++) out[i] = s * rng.normal();
      return;
    }
    case "uniform": {
      const a = std ?? 0.05;
      for (let i = 0; i < out.length; i++) out[i] = a * (2 * rng.uniform() - 1);
      return;
    }
    case "xavier":
    case "glorot": {
      const a = Math.sqrt(6 / Math.max(1, fanIn + fanOut));
      for (let i = 0; i < out.length; i++) out[i] = a * (2 * rng.uniform() - 1);
      return;
    }
    case "he":
    case "kaiming": {
      const s = Math.sqrt(2 / Math.max(1, fanIn));
      for (let i = 0; i < out.length; i++) out[i] = s * rng.normal();
      return;
    }
  }
}

/** What the ONNX tests share: running a model in ONNX Runtime, and the error measure. */
import * as ort from "onnxruntime-node";
import { expect } from "vitest";

/** Runs the model in ONNX Runtime (graph optimisations off) on `feeds`; every output by name. */
export async function runOrt(model: Uint8Array, feeds: Record<string, { shape: readonly number[]; data: Float32Array }>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: "disabled" });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor("float32", v.data, v.shape as number[]);
    return await session.run(inputs);
  } finally {
    await session.release();
  }
}

/** Largest |a − b| / max(1, |b|); Infinity where one side is NaN and the other is not. */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!) !== Number.isNaN(b[i]!)) return Infinity;
    m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  }
  return m;
}

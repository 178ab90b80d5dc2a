/**
 * asc-transform.js keeps the functions in its SOURCE_ORDER list in the order their source
 * writes them (the optimizer would fold each value used once back into its use, one
 * vector's chain after the other). Exact GeLU's loops compute two vectors at a time with
 * their operations interleaved (gelu_pair); in the release builds, the two vectors'
 * divisions (erfc's t = 1/(1 + a/2)) must then sit side by side in the function's code,
 * where the fully optimized form puts one whole chain between them. Read back with
 * binaryen, which keeps the module's locals as they are.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BUILD } from "./helpers.js";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Line distances between the first few f32x4.div of an exported function's text. */
async function divisionGaps(build: string, name: string): Promise<number[]> {
  const { default: binaryen } = await import("binaryen");
  const module = binaryen.readBinary(fs.readFileSync(path.join(root, "build", `simdgrad.${build}.wasm`)));
  try {
    const fn = module.getFunction(binaryen.getExportInfo(module.getExport(name)).value);
    const lines = binaryen.emitText(binaryen.getFunctionInfo(fn).body).split("\n");
    const at = lines.flatMap((l, i) => (l.includes("f32x4.div") ? [i] : []));
    return at.slice(1, 4).map((d, i) => d - at[i]!);
  } finally {
    module.dispose();
  }
}

describe("functions kept in source order (asc-transform.js SOURCE_ORDER)", () => {
  for (const name of ["gelu_forward", "gelu_forward_slope", "gelu_backward"]) {
    it(`${BUILD}: ${name} runs its two vectors' divisions side by side`, async () => {
      const gaps = await divisionGaps(BUILD, name);
      expect(gaps.length).toBeGreaterThanOrEqual(2);
      // Interleaved: 10–12 lines apart; optimized whole, 17–202.
      expect(gaps[0]).toBeLessThanOrEqual(14);
    });
  }
});

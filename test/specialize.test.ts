/**
 * asc-transform.js (SPECIALIZE) propagates the inlined constants of elementwise.ts, optim.ts
 * and strided.ts before the optimizer, so that a kernel written as `if (flag) loop(true) else
 * loop(false)` keeps a loop per flag value: without it, -O3's code folding merged the two
 * into one loop that tests the flag at every vector (0.5–0.8× in V8). Read back with binaryen:
 * the release builds' kernels carry both loops, none of them picks a value per vector by a
 * `select` on the flag, and binary_nd runs one function per op.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BUILD } from "./helpers.js";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Loops and selects in the text of each exported function named. */
async function shapes(build: string, names: readonly string[]): Promise<Record<string, { loops: number; selects: number; calls: number }>> {
  const { default: binaryen } = await import("binaryen");
  const module = binaryen.readBinary(fs.readFileSync(path.join(root, "build", `simdgrad.${build}.wasm`)));
  try {
    const out: Record<string, { loops: number; selects: number; calls: number }> = {};
    for (const name of names) {
      const fn = module.getFunction(binaryen.getExportInfo(module.getExport(name)).value);
      const text = binaryen.emitText(binaryen.getFunctionInfo(fn).body);
      const count = (re: RegExp) => (text.match(re) ?? []).length;
      out[name] = { loops: count(/\(loop /g), selects: count(/\(select/g), calls: count(/\(call /g) };
    }
    return out;
  } finally {
    module.dispose();
  }
}

describe("kernels keep a loop per flag value (asc-transform.js SPECIALIZE)", () => {
  it(`${BUILD}: the elementwise maps have their 16-float and 4-float loops once per value of accumulate`, async () => {
    // Each of these: two vector loops and a scalar tail per flag value (rows: and the row loop).
    const names = ["add_same", "sub_same", "mul_same", "add_scalar", "mul_scalar", "add_rows", "mul_rows"];
    const s = await shapes(BUILD, names);
    for (const name of names) {
      expect(s[name]!.loops, name).toBeGreaterThanOrEqual(6); // merged: 3 (4 for rows)
      expect(s[name]!.selects, name).toBe(0); // merged: one select per stored vector
    }
  });

  it(`${BUILD}: sgd_step keeps its loops apart, and binary_nd calls one function per op`, async () => {
    const s = await shapes(BUILD, ["sgd_step", "binary_nd"]);
    expect(s.sgd_step!.loops).toBeGreaterThanOrEqual(8); // merged: 4
    expect(s.binary_nd!.loops).toBe(0);
    expect(s.binary_nd!.calls).toBeGreaterThanOrEqual(7); // six ops and the strided fallback
  });
});

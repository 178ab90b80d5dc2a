/**
 * The typed face of the module (the `Kernels` interface, merged from the `declare module`
 * blocks of src/) against the module's real exports: every declared kernel is an exported
 * function of both builds with the declared number of parameters, and each is declared in
 * one place only. Read with the TypeScript compiler from the sources, so a declaration cannot
 * drift from the kernel it names.
 */
import { describe, expect, it } from "vitest";
import { init } from "../src/index.js";
import { KERNEL_ARITY } from "../src/runtime/kernel-manifest.js";
import { runtime } from "./helpers.js";
import { declaredKernels } from "../scripts/kernel-declarations.mjs";

interface Declared {
  arity: number;
  arities: number[];
  files: string[];
}

describe("Kernels declarations", () => {
  const declared = declaredKernels() as Map<string, Declared>;

  it("give each kernel one parameter count", () => {
    const mixed = [...declared].filter(([, d]) => d.arities.length !== 1).map(([n, d]) => `${n}: ${d.arities.join(" / ")}`);
    expect(mixed).toEqual([]);
  });

  it("name exported functions of the module with the declared arity", async () => {
    const sg = await runtime();
    const exports = sg.rt.rawKernels as unknown as Record<string, unknown>;
    expect(declared.size).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const [name, d] of declared) {
      const f = exports[name];
      if (typeof f !== "function") problems.push(`${name} (declared in ${d.files.join(", ")}) is not exported by the module`);
      else if (f.length !== d.arity) problems.push(`${name}: declared with ${d.arity} parameters, the module's takes ${f.length}`);
    }
    expect(problems).toEqual([]);
  });

  it("declare each kernel once", () => {
    const twice = [...declared].filter(([, d]) => d.files.length > 1).map(([n, d]) => `${n}: ${d.files.join(", ")}`);
    expect(twice).toEqual([]);
  });

  it("agree with the manifest the debug build checks at load time (node scripts/kernel-declarations.mjs rewrites it)", () => {
    const wrong = Object.entries(KERNEL_ARITY).filter(([n, a]) => declared.get(n)?.arity !== a).map(([n, a]) => `${n}: manifest ${a}, declared ${declared.get(n)?.arity ?? "nothing"}`);
    expect(wrong).toEqual([]);
    // Kernels declared since the manifest was written are not checked at load time until it is rewritten.
    expect(Object.keys(KERNEL_ARITY).length).toBeGreaterThan(50);
  });

  it("the debug build loads with the check on, and the check names a mismatch", async () => {
    const dbg = await init({ debug: true });
    expect(dbg.features.build).toBe("debug");
    await dbg.close();
    const m = KERNEL_ARITY as Record<string, number>;
    const saved = m.relu_forward!;
    m.relu_forward = saved + 1;
    try {
      await expect(init({ debug: true })).rejects.toThrow(/relu_forward takes 3 parameters, declared 4/);
    } finally {
      m.relu_forward = saved;
    }
  });
});

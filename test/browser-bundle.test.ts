/**
 * The minified browser module (dist/browser/simdgrad.min.js, built by `npm run build`) is the
 * library a page fetches: it loads the build under test from ../../build/, trains, and runs
 * its thread pool from dist/browser/worker.js, with the same results as the TypeScript sources.
 */
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { init as initSrc } from "../src/index.js";
import { BUILD } from "./helpers.js";

const BUNDLE = new URL("../dist/browser/simdgrad.min.js", import.meta.url);

describe("browser bundle", () => {
  it("is built, minified, with a source map, and imports nothing by bare name", () => {
    expect(existsSync(BUNDLE), "run npm run build").toBe(true);
    const code = readFileSync(BUNDLE, "utf8");
    expect(code).toContain("//# sourceMappingURL=simdgrad.min.js.map");
    expect(existsSync(new URL("../dist/browser/simdgrad.min.js.map", import.meta.url))).toBe(true);
    expect(existsSync(new URL("../dist/browser/worker.js", import.meta.url))).toBe(true);
    // No static imports; dynamic ones only of node: modules (behind runtime checks) and of
    // optional peer dependencies (loaded only by the feature that needs them).
    const peers = Object.keys((JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { peerDependencies?: object }).peerDependencies ?? {});
    // A static import or re-export: `import x from"…"`, `import{…}from"…"`, `import*as x from"…"`,
    // `export{…}from"…"` or a bare `import"…"` (not the word "from" ending a message string).
    expect(code).not.toMatch(/(?:\bimport\s*(?:[\w$]+|\*\s*as\s+[\w$]+|\{[^}]*\})\s*from\s*["'`]|\bexport\s*\{[^}]*\}\s*from\s*["'`]|(?:^|[;\n])\s*import\s*["'`])/);
    // Dynamic ones also of the files beside it that hold code used later (the ONNX exporter):
    // they exist, and import statically only the bundle itself (what they share with it).
    const dynamic = [...code.matchAll(/\bimport\s*\(\s*["'`]([^"'`]+)["'`]/g)].map((m) => m[1]!);
    const lazy = dynamic.filter((s) => /^\.\/[\w.-]+\.min\.js$/.test(s));
    expect(lazy, "the ONNX exporter is imported on first use").toContain("./onnx.min.js");
    expect(lazy, "the worker pool and the split kernels are imported when threads are asked for").toContain("./start-threads.min.js");
    for (const s of dynamic) expect(s.startsWith("node:") || peers.some((p) => s === p || s.startsWith(`${p}/`)) || lazy.includes(s), s).toBe(true);
    for (const s of lazy) {
      const file = new URL(s, BUNDLE);
      expect(existsSync(file), s).toBe(true);
      expect(existsSync(new URL(`${s}.map`, BUNDLE)), `${s}.map`).toBe(true);
      const chunk = readFileSync(file, "utf8");
      const statics = [...chunk.matchAll(/(?:\bimport\s*(?:[\w$]+|\*\s*as\s+[\w$]+|\{[^}]*\})\s*from\s*|\bexport\s*\{[^}]*\}\s*from\s*|(?:^|[;\n])\s*import\s*)["'`]([^"'`]+)["'`]/g)].map((m) => m[1]!);
      for (const t of statics) expect(t, `${s} imports`).toBe("./simdgrad.min.js");
    }
    // What a page fetches before its first call holds no exporter (its message table), and no
    // worker pool (one of its messages).
    expect(code).not.toContain("ModelProto");
    expect(code).not.toContain("workers did not start");
  });

  it("computes what the sources compute, on one thread and on two", async () => {
    const mod = (await import(pathToFileURL(BUNDLE.pathname).href)) as typeof import("../src/index.js");
    const ref = await initSrc({ relaxedSimd: BUILD === "relaxed", threads: 1 });
    const a = Float32Array.from({ length: 130 * 70 }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: 70 * 90 }, (_, i) => Math.cos(i));
    const want = ref.matmul(ref.tensor([130, 70], a), ref.tensor([70, 90], b)).toArray();
    for (const threads of [1, 2]) {
      const sg = await mod.init({ relaxedSimd: BUILD === "relaxed", threads });
      expect(sg.features.build).toBe(BUILD);
      const got = sg.matmul(sg.tensor([130, 70], a), sg.tensor([70, 90], b)).toArray();
      expect(Array.from(got)).toEqual(Array.from(want));
      await sg.close();
    }
    await ref.close();
  });

  it("exports ONNX through the exporter it imports on first use, the same bytes as the sources", async () => {
    const mod = (await import(pathToFileURL(BUNDLE.pathname).href)) as typeof import("../src/index.js");
    const models: Uint8Array[] = [];
    for (const lib of [mod, await import("../src/index.js")]) {
      const sg = await lib.init({ relaxedSimd: BUILD === "relaxed", threads: 1 });
      const g = sg.graph();
      const x = g.input([3, 5], "x");
      const W = g.param([5, 4], { data: Float32Array.from({ length: 20 }, (_, i) => Math.sin(i)), name: "W" });
      const y = g.name(g.sigmoid(g.matmul(x, W)), "y");
      models.push(await g.exportOnnx({ inputs: [x], outputs: [y] }));
      await sg.close();
    }
    expect(models[0]!.length).toBeGreaterThan(100);
    expect(Array.from(models[0]!)).toEqual(Array.from(models[1]!));
  });
});

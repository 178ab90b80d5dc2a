import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { init } from "../src/index.js";
import { BUILD, runtime } from "./helpers.js";

describe("runtime errors are clear and leave the runtime usable", () => {
  it("bad shapes and data lengths", async () => {
    const sg = await runtime();
    expect(() => sg.tensor([2, 3], [1, 2])).toThrow("tensor: shape [2, 3] takes 6 values, data has 2");
    expect(() => sg.tensor([2, -3])).toThrow("tensor: shape [2, -3] has a dimension that is not a non-negative integer (-3)");
    expect(() => sg.zeros([2.5])).toThrow(/not a non-negative integer \(2.5\)/);
    expect(() => sg.zeros("3" as never)).toThrow("tensor: shape must be an array of integers, got 3");
    expect(() => sg.tensor([2], "ab" as never)).toThrow(/tensor: data must be an array of numbers/);
    const t = sg.tensor([2, 2], [1, 2, 3, 4]);
    expect(() => t.set([1, 2, 3])).toThrow("set: tensor [2, 2] takes 4 values, got 3");
    expect(() => t.readInto(new Float32Array(3))).toThrow("readInto: tensor [2, 2] has 4 values, the output holds only 3");
    expect(() => t.readInto([0, 0, 0, 0] as never)).toThrow(/readInto: expected a Float32Array/);
    expect(Array.from(t.toArray())).toEqual([1, 2, 3, 4]);
    t.dispose();
  });

  it("a disposed tensor", async () => {
    const sg = await runtime();
    const t = sg.tensor([2, 3], [1, -2, 3, -4, 5, -6]);
    t.dispose();
    t.dispose(); // idempotent
    expect(() => t.data).toThrow("data: tensor [2, 3] has been disposed");
    expect(() => t.toArray()).toThrow(/has been disposed/);
    expect(() => sg.relu(t)).toThrow("relu: tensor [2, 3] has been disposed");
    expect(() => sg.matmul(t, t, { transposeB: true })).toThrow(/matmul: .*disposed/);
    const u = sg.tensor([2, 3], [1, -2, 3, -4, 5, -6]);
    expect(Array.from(sg.relu(u).toArray())).toEqual([1, 0, 3, 0, 5, 0]);
  });

  it("more memory than wasm32 can hold", async () => {
    const sg = await runtime();
    const before = sg.memory.bytesInUse;
    expect(() => sg.zeros([2 ** 31])).toThrow(/tensor: shape \[2147483648\] has 2147483648 elements, more than wasm32 memory can hold/);
    expect(() => sg.zeros([2 ** 29, 2])).toThrow(/tensor: out of memory: 4.00 GiB requested with .* in use; wasm32 linear memory holds at most 4 GiB/);
    expect(sg.memory.bytesInUse).toBe(before);
    const ok = sg.ones([1000]);
    expect(ok.toArray()[999]).toBe(1);
    ok.dispose();
  });

  it("a closed runtime refuses work, and its tensors are unusable", async () => {
    const sg = await init({ relaxedSimd: BUILD === "relaxed" });
    const t = sg.ones([3]);
    await sg.close();
    expect(() => sg.zeros([2])).toThrow("tensor: this simdgrad runtime has been closed");
    expect(() => t.toArray()).toThrow("data: tensor [3] belongs to a closed runtime");
    expect(() => sg.graph()).toThrow("graph: this simdgrad runtime has been closed");
  });

  it("tensors of another runtime are refused", async () => {
    const a = await runtime();
    const b = await init({ relaxedSimd: BUILD === "relaxed" });
    const t = b.ones([2, 2]);
    expect(() => a.relu(t)).toThrow("relu: input [2, 2] belongs to another simdgrad runtime");
    await b.close();
  });

  it("init explains a missing relaxed SIMD and a wrong wasm location", async () => {
    if (BUILD === "simd" && !process.execArgv.includes("--experimental-wasm-relaxed-simd") && Number(process.versions.node.split(".")[0]) < 22) {
      await expect(init({ relaxedSimd: true })).rejects.toThrow(/relaxedSimd: true was asked for, but this runtime does not support WebAssembly relaxed SIMD/);
    }
    await expect(init({ wasm: "/nonexistent/dir/" })).rejects.toThrow(/nonexistent/);
    await expect(init({ wasm: new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]) })).rejects.toThrow(/^init: the given wasm \(8 bytes\) does not validate/);
  });

  it("init names a .wasm file that is empty or cut short, with its size", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "simdgrad-wasm-"));
    try {
      // Empty files, as a build or a download cut short leaves them: the relaxed one does not
      // validate (so the SIMD128 one is tried, as on an engine without relaxed SIMD).
      writeFileSync(path.join(dir, "simdgrad.simd.wasm"), new Uint8Array(0));
      writeFileSync(path.join(dir, "simdgrad.relaxed.wasm"), new Uint8Array(0));
      await expect(init({ wasm: dir })).rejects.toThrow(/^init: file:\/\/.*\/simdgrad\.simd\.wasm \(0 bytes\) is not a WebAssembly module this runtime can compile: the file is empty/);
      await expect(init({ wasm: dir, threads: 2 })).rejects.toThrow(/simdgrad\.simd\.wasm \(0 bytes\) is not a WebAssembly module/);
      // The first 100 bytes of a real build.
      const real = readFileSync(new URL("../build/simdgrad.simd.wasm", import.meta.url));
      writeFileSync(path.join(dir, "simdgrad.simd.wasm"), real.subarray(0, 100));
      await expect(init({ wasm: path.join(dir, "simdgrad.simd.wasm") })).rejects.toThrow(/^init: file:\/\/.*\/simdgrad\.simd\.wasm \(100 bytes\) does not validate in this runtime \(.*a file cut short\?\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Nothing is left broken: a runtime loads and computes.
    const sg = await init({ relaxedSimd: BUILD === "relaxed" });
    expect(Array.from(sg.relu(sg.tensor([3], [-1, 0, 2])).toArray())).toEqual([0, 0, 2]);
    await sg.close();
  });

  it("memory stats track allocations and frees, and freed memory is reused", async () => {
    const sg = await runtime();
    const s0 = sg.memory;
    const a = sg.zeros([1000]);
    const s1 = sg.memory;
    expect(s1.bytesInUse - s0.bytesInUse).toBe(4000);
    expect(s1.totalAllocations).toBe(s0.totalAllocations + 1);
    const ptr = a.ptr;
    a.dispose();
    expect(sg.memory.bytesInUse).toBe(s0.bytesInUse);
    const b = sg.zeros([1000]);
    expect(b.ptr).toBe(ptr); // first fit reuses the freed block
    expect(sg.memory.peakBytes).toBeGreaterThanOrEqual(s1.bytesInUse);
    b.dispose();
  });
});

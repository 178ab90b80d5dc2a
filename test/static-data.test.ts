/**
 * The module's own static data: the table of vector constants that asc-transform.js moves
 * out of the kernels' loops, written by the module's start function when it is
 * instantiated. It must lie inside the bottom RESERVED_BYTES the arena never hands out, be
 * written again (same bytes) by every instantiation over a memory, as each pool worker's is,
 * and be what the kernels read: corrupting it changes their results, which proves the loops
 * read it (and why nothing else may write there). The same for the zero block at its top,
 * which the convolutions' patch packers read for rows in the padding.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RESERVED_BYTES } from "../src/runtime/arena.js";
import { ZERO_BLOCK_AT, ZERO_BLOCK_BYTES } from "../src/runtime/static-layout.js";
import { BUILD, runtime } from "./helpers.js";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

async function instantiate(memory: WebAssembly.Memory, build: string = BUILD) {
  const bytes = fs.readFileSync(path.join(root, "build", `simdgrad.${build}.wasm`));
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, abort: () => { throw new Error("abort"); } } });
  return instance.exports as Record<string, (...a: number[]) => void>;
}

/** [first, last] nonzero byte of the memory's bottom RESERVED_BYTES, or null if all zero. */
function written(memory: WebAssembly.Memory): [number, number] | null {
  const b = new Uint8Array(memory.buffer, 0, RESERVED_BYTES);
  let first = -1, last = -1;
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) { if (first < 0) first = i; last = i; }
  return first < 0 ? null : [first, last];
}

describe(`static data (${BUILD})`, () => {
  it.each([BUILD, `dense.${BUILD}`, "debug"])("is written at instantiation, inside the reserved bottom of memory (%s build)", async (build) => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    await instantiate(memory, build);
    const range = written(memory);
    expect(range).not.toBeNull();
    expect(range![0]).toBeGreaterThanOrEqual(16);
    expect(range![1]).toBeLessThan(RESERVED_BYTES);
    // The constant table stays below the zero block, which is zeros.
    expect(range![1]).toBeLessThan(ZERO_BLOCK_AT);
    expect(ZERO_BLOCK_AT + ZERO_BLOCK_BYTES).toBe(RESERVED_BYTES);
    // Nothing past the bottom RESERVED_BYTES.
    expect(new Uint8Array(memory.buffer, RESERVED_BYTES).some((x) => x !== 0)).toBe(false);
  });

  it("is the same bytes when a second instance starts over the same memory", async () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    await instantiate(memory);
    const before = new Uint8Array(memory.buffer, 0, RESERVED_BYTES).slice();
    await instantiate(memory);
    expect(new Uint8Array(memory.buffer, 0, RESERVED_BYTES)).toEqual(before);
  });

  it("differs between the dense and the full kernel sets, so the two never share a memory (each runtime loads one)", async () => {
    const tables: Uint8Array[] = [];
    for (const build of [BUILD, `dense.${BUILD}`]) {
      const memory = new WebAssembly.Memory({ initial: 2 });
      await instantiate(memory, build);
      tables.push(new Uint8Array(memory.buffer, 0, ZERO_BLOCK_AT).slice());
    }
    // Same place, other constants: a dense instance's loops would read the full module's.
    expect(tables[0]).not.toEqual(tables[1]);
  });

  it("has a zero block the convolutions read for the padding, set again by every instantiation", async () => {
    const memory = new WebAssembly.Memory({ initial: 8 });
    new Uint8Array(memory.buffer, ZERO_BLOCK_AT, ZERO_BLOCK_BYTES).fill(0x3f); // each float ≈ 0.747
    let k = await instantiate(memory);
    expect(new Uint8Array(memory.buffer, ZERO_BLOCK_AT, ZERO_BLOCK_BYTES).every((b) => b === 0)).toBe(true);
    // A "same" 3×3 convolution, 16 → 16 channels over 2 images of 6×6 (the transposed path,
    // whose patch packer reads the block for windows over the padding): all ones in, so each
    // output is the number of its window's taps inside the image times 16.
    const [n, h, w, c, f] = [2, 6, 6, 16, 16];
    const m = n * h * w, kk = 9 * c;
    const x = RESERVED_BYTES, fl = x + m * c * 4, y = fl + kk * f * 4, s = y + m * f * 4;
    const pair = (lo: number, hi: number) => lo | (hi << 16);
    const scratch = (k.conv2d_scratch_bytes as unknown as (m: number, k: number, f: number) => number)(m, kk, f);
    expect(s + scratch).toBeLessThanOrEqual(memory.buffer.byteLength);
    const fv = new Float32Array(memory.buffer);
    fv.fill(1, x / 4, (x + m * c * 4) / 4);
    fv.fill(1, fl / 4, (fl + kk * f * 4) / 4);
    const run = () => {
      k.conv2d_forward!(x, fl, y, n, h, w, c, f, h, w, pair(3, 3), pair(1, 1), pair(1, 1), pair(1, 1), 0, m, s);
      return new Float32Array(memory.buffer, y, m * f).slice();
    };
    const taps = (i: number) => (i === 0 || i === 5 ? 2 : 3);
    const want = Float32Array.from({ length: m * f }, (_, e) => {
      const p = Math.floor(e / f) % (h * w);
      return 16 * taps(Math.floor(p / w)) * taps(p % w);
    });
    expect(run()).toEqual(want);
    // Dirty, the block reads into the windows over the padding; a new instance sets it again.
    new Uint8Array(memory.buffer, ZERO_BLOCK_AT, ZERO_BLOCK_BYTES).fill(0x3f);
    expect(run()).not.toEqual(want);
    k = await instantiate(memory);
    expect(run()).toEqual(want);
  });

  it("is what the kernels' loops read, and the arena never hands it out", async () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const k = await instantiate(memory);
    const n = 64, x = RESERVED_BYTES, y = x + 4 * n;
    const f = new Float32Array(memory.buffer);
    for (let i = 0; i < n; i++) f[x / 4 + i] = i / 8 - 4;
    k.sigmoid_forward!(x, y, n);
    const good = f.slice(y / 4, y / 4 + n);
    for (let i = 0; i < n; i++) expect(Math.abs(good[i]! - 1 / (1 + Math.exp(-(i / 8 - 4))))).toBeLessThan(1e-6);
    const [first, last] = written(memory)!;
    const saved = new Uint8Array(memory.buffer, first, last + 1 - first).slice();
    new Uint8Array(memory.buffer, first, last + 1 - first).fill(0);
    k.sigmoid_forward!(x, y, n);
    expect(f.slice(y / 4, y / 4 + n)).not.toEqual(good);
    new Uint8Array(memory.buffer, first, last + 1 - first).set(saved);
    k.sigmoid_forward!(x, y, n);
    expect(f.slice(y / 4, y / 4 + n)).toEqual(good);

    const sg = await runtime();
    const t = sg.tensor([1], new Float32Array([1]));
    expect(t.ptr).toBeGreaterThanOrEqual(RESERVED_BYTES);
    t.dispose();
  });
});

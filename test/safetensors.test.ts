/**
 * safetensors: round trips, files written by hand from the format's specification (F16 and
 * BF16 values with subnormals, infinities and NaN, metadata, entries listed out of data
 * order, padded headers), every kind of malformed header, and a fuzz of corrupted files that
 * must give a clear error (never a crash, a trap or a wrong value).
 */
import { describe, expect, it } from "vitest";
import { metadata, parse, parseFile, serialize, halfToFloat } from "../src/io/safetensors.js";

/** A file from a header object (written as JSON text, in its own key order) and raw data bytes. */
function file(header: unknown, data: Uint8Array | number[], opts: { headerText?: string; pad?: number } = {}): Uint8Array {
  let text = opts.headerText ?? JSON.stringify(header);
  text += " ".repeat(opts.pad ?? 0);
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function u16le(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, v >> 8]);
}

function f32le(values: number[]): number[] {
  const b = new Uint8Array(4 * values.length);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setFloat32(4 * i, v, true));
  return [...b];
}

function bits(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

/** mulberry32: a small seeded generator, so the fuzz is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("safetensors round trip", () => {
  it("serialize then parse gives back every name, shape and bit, in order, with the metadata", () => {
    const special = new Float32Array([0, -0, 1.5, -2.25, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38, -1e-40]);
    const record = {
      "layer1.W": { shape: [2, 5], data: special },
      scalar: { shape: [], data: [7] },
      empty: { shape: [3, 0], data: [] },
      "b1": { shape: [3], data: [0.1, 0.2, 0.3] },
    };
    const bytes = serialize(record, { metadata: { format: "simdgrad", note: "ünïcode ✓" } });
    // The data starts 8-byte aligned (the header is padded with spaces).
    const n = new DataView(bytes.buffer).getUint32(0, true);
    expect(n % 8).toBe(0);
    const back = parse(bytes);
    expect(Object.keys(back)).toEqual(["layer1.W", "scalar", "empty", "b1"]);
    expect(back["layer1.W"]!.shape).toEqual([2, 5]);
    expect(bits(back["layer1.W"]!.data)).toEqual(bits(special));
    expect(back.scalar!.shape).toEqual([]);
    expect([...back.scalar!.data]).toEqual([7]);
    expect(back.empty!.shape).toEqual([3, 0]);
    expect(back.empty!.data.length).toBe(0);
    expect([...back.b1!.data]).toEqual([...new Float32Array([0.1, 0.2, 0.3])]);
    for (const t of Object.values(back)) expect(t.dtype).toBe("F32");
    expect(metadata(bytes)).toEqual({ format: "simdgrad", note: "ünïcode ✓" });
  });

  it("an empty record is a valid file with no tensors", () => {
    const bytes = serialize({});
    expect(parse(bytes)).toEqual({});
    expect(metadata(bytes)).toEqual({});
  });

  it("reads a file whose bytes sit at an odd offset of a larger buffer", () => {
    const bytes = serialize({ a: { shape: [3], data: [1, 2, 3] } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect([...parse(big.subarray(3)).a!.data]).toEqual([1, 2, 3]);
  });

  it("serialize checks its input", () => {
    expect(() => serialize({ a: { shape: [2, 2], data: [1, 2, 3] } })).toThrow(/'a' has shape \[2, 2\] \(4 values\) but 3 values/);
    expect(() => serialize({ a: { shape: [-1], data: [] } })).toThrow(/'a' needs a shape of non-negative integers/);
    expect(() => serialize({ __metadata__: { shape: [1], data: [1] } })).toThrow(/cannot name a tensor/);
    expect(() => serialize({ a: { shape: [1], data: [1] } }, { metadata: { k: 1 as unknown as string } })).toThrow(/metadata 'k' must be a string/);
    expect(() => serialize(null as never)).toThrow(TypeError);
  });
});

describe("safetensors files written by hand from the specification", () => {
  it("F16: normals, subnormals, ±0, ±inf, NaN", () => {
    // 0x3c00 = 1, 0xc000 = −2, 0x7bff = 65504 (largest), 0x0400 = 2^-14 (smallest normal),
    // 0x0001 = 2^-24 (smallest subnormal), 0x03ff = largest subnormal, 0x8000 = −0,
    // 0x7c00 = inf, 0xfc00 = −inf, 0x7e00 = NaN, 0x3555 ≈ 1/3.
    const halves = [0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x0000];
    const want = [1, -2, 65504, 2 ** -14, 2 ** -24, 1023 * 2 ** -24, -0, Infinity, -Infinity, NaN, 0.333251953125, 0];
    const bytes = file({ h: { dtype: "F16", shape: [3, 4], data_offsets: [0, 24] } }, u16le(halves));
    const t = parse(bytes).h!;
    expect(t.dtype).toBe("F16");
    expect(t.shape).toEqual([3, 4]);
    want.forEach((w, i) => expect(Object.is(t.data[i], w) || (Number.isNaN(w) && Number.isNaN(t.data[i]!)), `element ${i}: ${t.data[i]} vs ${w}`).toBe(true));
    // Every one of the 65536 half values converts exactly (a half is a float32 value).
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = halfToFloat(h);
      const nan = ((h >> 10) & 31) === 31 && (h & 1023) !== 0;
      if (nan ? !Number.isNaN(v) : Math.fround(v) !== v || Number.isNaN(v)) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    // Neighbours are ordered: each positive finite half is larger than the one before.
    for (let h = 1; h < 0x7c00; h++) if (!(halfToFloat(h) > halfToFloat(h - 1))) wrong.push(h);
    expect(wrong).toEqual([]);
  });

  it("BF16: the top half of a float32, including subnormals, inf and NaN", () => {
    const b = [0x3f80, 0xbfc0, 0x7f7f, 0x0080, 0x0001, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x4049];
    const want = [1, -1.5, 3.3895313892515355e38, 2 ** -126, 2 ** -133, -0, Infinity, -Infinity, NaN, 3.140625];
    const t = parse(file({ b: { dtype: "BF16", shape: [10], data_offsets: [0, 20] } }, u16le(b))).b!;
    expect(t.dtype).toBe("BF16");
    want.forEach((w, i) => expect(Object.is(t.data[i], w) || (Number.isNaN(w) && Number.isNaN(t.data[i]!)), `element ${i}`).toBe(true));
  });

  it("entries listed out of data order, metadata first, mixed dtypes, a scalar, an empty tensor and a padded header", () => {
    // Data layout: [c: F32 scalar][a: F16 [2]][empty][b: BF16 [1, 2]]
    const data = [...f32le([-4.5]), ...u16le([0x3c00, 0x4000]), ...u16le([0x4040, 0xc0a0])];
    const headerText =
      '{"__metadata__":{"format":"pt","epoch":"3"},' +
      '"b":{"shape":[1,2],"dtype":"BF16","data_offsets":[8,12]},' +
      '"empty":{"data_offsets":[8,8],"dtype":"F32","shape":[0,5]},' +
      '"a":{"dtype":"F16","data_offsets":[4,8],"shape":[2]},' +
      '"c":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}';
    const bytes = file(null, data, { headerText, pad: 5 });
    const { tensors, metadata: meta } = parseFile(bytes);
    expect(Object.keys(tensors)).toEqual(["b", "empty", "a", "c"]);
    expect([...tensors.c!.data]).toEqual([-4.5]);
    expect(tensors.c!.shape).toEqual([]);
    expect([...tensors.a!.data]).toEqual([1, 2]);
    expect([...tensors.b!.data]).toEqual([3, -5]);
    expect(tensors.empty!.shape).toEqual([0, 5]);
    expect(meta).toEqual({ format: "pt", epoch: "3" });
  });

  it("JSON escapes in names are decoded", () => {
    const bytes = file(null, f32le([1]), { headerText: '{"w\\u00e9ight\\n\\"q\\"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' });
    expect(Object.keys(parse(bytes))).toEqual(['wéight\n"q"']);
  });
});

describe("malformed safetensors files are clear errors", () => {
  const ok = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const cases: [string, () => Uint8Array, RegExp][] = [
    ["fewer than 8 bytes", () => new Uint8Array(5), /fewer than the 8 of the header length/],
    ["a header length past the end", () => {
      const b = file({ a: ok }, f32le([1, 2]));
      new DataView(b.buffer).setUint32(0, b.length, true);
      return b;
    }, /header length \d+ runs past the end of the file/],
    ["a header length over 2^53", () => {
      const b = file({ a: ok }, f32le([1, 2]));
      new DataView(b.buffer).setUint32(4, 0xffffffff, true);
      return b;
    }, /over 2\^53\) runs past the end/],
    ["a header that is not an object", () => file(null, [], { headerText: "[1,2]" }), /does not start with '\{'/],
    ["invalid UTF-8", () => {
      const b = file(null, [], { headerText: '{"a":1}' });
      b[10] = 0xff;
      return b;
    }, /not valid UTF-8/],
    ["invalid JSON", () => file(null, [], { headerText: '{"a":{"dtype":"F32",}}' }), /not valid JSON/],
    ["trailing text", () => file(null, [], { headerText: "{} x" }), /data after the header's object/],
    ["a duplicate key", () => file(null, f32le([1, 2, 3, 4]), { headerText: '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' }), /names 'a' twice/],
    ["an unknown dtype", () => file({ a: { ...ok, dtype: "F17" } }, f32le([1, 2])), /tensor 'a': unknown dtype 'F17'/],
    ["an unsupported dtype", () => file({ a: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, f32le([1, 2])), /'a' is stored as F64; simdgrad reads F32, F16 and BF16/],
    ["a shape whose product does not match the bytes", () => file({ a: { ...ok, shape: [3] } }, f32le([1, 2])), /F32 \[3\] takes 12 bytes, its data_offsets \[0, 8\] span 8/],
    ["a negative dimension", () => file({ a: { ...ok, shape: [-2] } }, f32le([1, 2])), /not a non-negative integer/],
    ["a fractional dimension", () => file({ a: { ...ok, shape: [2.5] } }, f32le([1, 2])), /not a non-negative integer/],
    ["a huge dimension", () => file(null, f32le([1, 2]), { headerText: '{"a":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}}' }), /out of range/],
    ["a shape product past 2^53", () => file({ a: { ...ok, shape: [2 ** 30, 2 ** 30, 2 ** 30] } }, f32le([1, 2])), /more elements than any file can hold/],
    ["offsets past the data", () => file({ a: { ...ok, data_offsets: [4, 12] } }, f32le([1, 2])), /run past the end of the data/],
    ["offsets reversed", () => file({ a: { ...ok, data_offsets: [8, 0] } }, f32le([1, 2])), /0 ≤ begin ≤ end/],
    ["offsets of the wrong form", () => file({ a: { ...ok, data_offsets: [0] } }, f32le([1, 2])), /data_offsets must be \[begin, end\]/],
    ["overlapping tensors", () => file({ a: ok, b: { ...ok, data_offsets: [4, 12] } }, f32le([1, 2, 3])), /'a' and 'b' overlap/],
    ["a hole in the data", () => file({ a: ok, b: { ...ok, data_offsets: [12, 20] } }, f32le([1, 2, 3, 4, 5])), /bytes 8–12 of the data belong to no tensor/],
    ["data before the first tensor", () => file({ a: { ...ok, data_offsets: [4, 12] } }, f32le([1, 2, 3])), /bytes 0–4 of the data belong to no tensor/],
    ["extra bytes after the last tensor", () => file({ a: ok }, f32le([1, 2, 3])), /4 bytes belong to no tensor/],
    ["an unknown field", () => file({ a: { ...ok, offset: 3 } }, f32le([1, 2])), /unknown field 'offset'/],
    ["a missing dtype", () => file({ a: { shape: [2], data_offsets: [0, 8] } }, f32le([1, 2])), /dtype must be a string, got nothing/],
    ["metadata that is not strings", () => file({ __metadata__: { epoch: 3 } }, []), /__metadata__ value of 'epoch' must be a string/],
    ["an entry that is not an object", () => file({ a: [1, 2] }, []), /tensor 'a': expected \{ dtype, shape, data_offsets \}/],
    ["deep nesting", () => file(null, [], { headerText: '{"a":' + "[".repeat(50) + "]".repeat(50) + "}" }), /nesting deeper than 16/],
    ["an empty name", () => file({ "": ok }, f32le([1, 2])), /empty name/],
  ];
  for (const [what, make, msg] of cases) {
    it(what, () => {
      expect(() => parse(make())).toThrow(msg);
    });
  }

  it("input that is not bytes is a TypeError", () => {
    expect(() => parse("abc" as never)).toThrow(/expected the file's bytes/);
    expect(() => parse(null as never)).toThrow(TypeError);
  });
});

describe("safetensors fuzz: corrupted files never crash", () => {
  const base = serialize(
    {
      W1: { shape: [3, 4], data: Array.from({ length: 12 }, (_, i) => i / 7 - 0.5) },
      b1: { shape: [4], data: [1, -1, 0.5, 0] },
      s: { shape: [], data: [42] },
      e: { shape: [0], data: [] },
    },
    { metadata: { epoch: "12", format: "simdgrad" } },
  );
  const headerEnd = 8 + new DataView(base.buffer).getUint32(0, true);

  /** parse must return tensors whose data match their shapes, or throw an Error from this module. */
  function check(bytes: Uint8Array, seed: number): "ok" | "error" {
    try {
      const t = parse(bytes);
      for (const [name, v] of Object.entries(t)) {
        expect(v.data.length, `seed ${seed}: '${name}'`).toBe(v.shape.reduce((a, b) => a * b, 1));
      }
      return "ok";
    } catch (e) {
      expect(e, `seed ${seed}`).toBeInstanceOf(Error);
      expect((e as Error).constructor, `seed ${seed}: ${(e as Error).message}`).toBe(Error);
      expect((e as Error).message, `seed ${seed}`).toMatch(/^safetensors: /);
      return "error";
    }
  }

  it("random truncations", () => {
    for (let len = 0; len < base.length; len++) expect(check(base.subarray(0, len), len)).toBe("error");
    expect(check(base, -1)).toBe("ok");
  });

  it("random byte flips over 3000 seeds (header-weighted)", () => {
    let errors = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const r = rng(seed);
      const b = base.slice();
      const flips = 1 + Math.floor(r() * 4);
      for (let f = 0; f < flips; f++) {
        // Most flips land in the length and the header, where they matter most.
        const at = r() < 0.8 ? Math.floor(r() * headerEnd) : Math.floor(r() * b.length);
        const kind = r();
        if (kind < 0.4) b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
        else if (kind < 0.7) b[at] = Math.floor(r() * 256);
        else b[at] = "{}[],:\"0123456789-.eE "[Math.floor(r() * 22)]!.charCodeAt(0);
      }
      if (check(b, seed) === "error") errors++;
    }
    // Most corruptions are caught; some (a flip inside the data, a digit of equal meaning) are not errors.
    expect(errors).toBeGreaterThan(1000);
  });

  it("random insertions and deletions in the header", () => {
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed * 7919);
      const at = 8 + Math.floor(r() * (headerEnd - 8));
      const arr = [...base];
      if (r() < 0.5) arr.splice(at, 1 + Math.floor(r() * 3));
      else arr.splice(at, 0, ...Array.from({ length: 1 + Math.floor(r() * 3) }, () => Math.floor(r() * 128)));
      check(new Uint8Array(arr), seed);
    }
  });
});

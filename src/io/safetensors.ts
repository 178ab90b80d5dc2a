/**
 * safetensors, read and written from the format's specification:
 *
 *   8 bytes   N, the header's length, an unsigned little-endian 64-bit integer
 *   N bytes   the header: UTF-8 JSON, starting with `{`, possibly padded at the end with spaces:
 *             { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, …,
 *               "__metadata__": { "<key>": "<string value>", … } }   (the metadata is optional)
 *   the rest  the data buffer; offsets are relative to its start, tensors are row-major and
 *             little-endian, and together they cover the buffer exactly, with no gap or overlap.
 *
 * Reading accepts F32, F16 and BF16 and converts them to float32. Writing writes F32, with the
 * header padded so the data starts 8-byte aligned.
 *
 * Parsing is defensive: every length, offset and count is checked before it is used, and any
 * problem is an Error that says what is wrong and where. Nothing here touches linear memory,
 * so a bad file leaves every runtime and graph as it was.
 */

/** One tensor as `parse` returns it: float32 values, row-major. */
export interface SafetensorsTensor {
  shape: number[];
  data: Float32Array;
  /** The type it was stored as (converted to float32 on reading). */
  dtype: "F32" | "F16" | "BF16";
}

/** What `serialize` takes: tensors by name; `data` holds exactly the shape's element count. */
export type SafetensorsInput = Record<string, { shape: readonly number[]; data: ArrayLike<number> }>;

export interface SerializeOptions {
  /** The `__metadata__` map: string keys to string values. */
  metadata?: Record<string, string>;
}

/** Headers larger than this are refused (the format's reference implementation uses the same bound). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA = "__metadata__";

/** Bytes per element of every dtype the format defines; null where a type has no whole byte size. */
const DTYPE_BYTES: Record<string, number | null> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8, C64: 8,
  F4: null, F6_E2M3: null, F6_E3M2: null,
};
const READABLE = new Set(["F32", "F16", "BF16"]);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

// ------------------------------------------------------------------ reading

/** Parses a safetensors file into float32 tensors by name (F32, F16 and BF16 are read). */
export function parse(bytes: Uint8Array | ArrayBuffer): Record<string, SafetensorsTensor> {
  return parseFile(bytes).tensors;
}

/** The `__metadata__` map of a safetensors file ({} when it has none); checks the whole file. */
export function metadata(bytes: Uint8Array | ArrayBuffer): Record<string, string> {
  return parseFile(bytes).metadata;
}

interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  size: number;
  begin: number;
  end: number;
}

/** The whole file checked and decoded: tensors in header order, and the metadata. */
export function parseFile(input: Uint8Array | ArrayBuffer): { tensors: Record<string, SafetensorsTensor>; metadata: Record<string, string> } {
  const bytes = asBytes(input, "parse");
  const { entries, meta, dataStart } = readHeader(bytes);
  const dataBytes = bytes.length - dataStart;
  checkCoverage(entries, dataBytes);
  const tensors: Record<string, SafetensorsTensor> = Object.create(null) as Record<string, SafetensorsTensor>;
  for (const e of entries) {
    if (!READABLE.has(e.dtype)) {
      fail(`tensor '${e.name}' is stored as ${e.dtype}; simdgrad reads F32, F16 and BF16`);
    }
    tensors[e.name] = { shape: e.shape, data: decode(bytes, dataStart + e.begin, e.size, e.dtype), dtype: e.dtype as SafetensorsTensor["dtype"] };
  }
  return { tensors, metadata: meta };
}

function asBytes(input: unknown, op: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError(`safetensors.${op}: expected the file's bytes (a Uint8Array or ArrayBuffer), got ${input === null ? "null" : typeof input}`);
}

function readHeader(bytes: Uint8Array): { entries: HeaderEntry[]; meta: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) fail(`the file has ${bytes.length} bytes, fewer than the 8 of the header length: it is truncated or not a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact below 2^53; larger values fail the next checks anyway
  if (hi >= 2 ** 21 || n > bytes.length - 8) {
    fail(`the header length ${hi >= 2 ** 21 ? "(over 2^53)" : n} runs past the end of the file (${bytes.length} bytes): it is truncated or not a safetensors file`);
  }
  if (n > MAX_HEADER_BYTES) fail(`the header length ${n} is over the limit of ${MAX_HEADER_BYTES} bytes`);
  if (n < 2) fail(`the header length ${n} is too short for a JSON object`);
  if (bytes[8] !== 0x7b) fail("the header does not start with '{': not a safetensors file");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("the header is not valid UTF-8");
  }
  const header = parseJson(text);
  if (!(header instanceof Map)) fail("the header is not a JSON object");
  const entries: HeaderEntry[] = [];
  let meta: Record<string, string> = {};
  for (const [name, v] of header.entries()) {
    if (name === METADATA) {
      meta = checkMetadata(v);
      continue;
    }
    entries.push(checkEntry(name, v));
  }
  return { entries, meta, dataStart: 8 + n };
}

function checkMetadata(v: Json): Record<string, string> {
  if (!(v instanceof Map)) fail(`${METADATA} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, s] of v) {
    if (typeof s !== "string") fail(`${METADATA} value of '${k}' must be a string, got ${describe(s)}`);
    out[k] = s;
  }
  return out;
}

function checkEntry(name: string, v: Json): HeaderEntry {
  const where = `tensor '${name}'`;
  if (name.length === 0) fail("a tensor has an empty name");
  if (!(v instanceof Map)) fail(`${where}: expected { dtype, shape, data_offsets }, got ${describe(v)}`);
  for (const k of v.keys()) {
    if (k !== "dtype" && k !== "shape" && k !== "data_offsets") fail(`${where}: unknown field '${k}' (expected dtype, shape, data_offsets)`);
  }
  const dtype = v.get("dtype");
  const shape = v.get("shape");
  const offsets = v.get("data_offsets");
  if (typeof dtype !== "string") fail(`${where}: dtype must be a string, got ${describe(dtype)}`);
  if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype)) fail(`${where}: unknown dtype '${dtype}'`);
  const width = DTYPE_BYTES[dtype] as number | null;
  if (!Array.isArray(shape)) fail(`${where}: shape must be an array of integers, got ${describe(shape)}`);
  let size = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) fail(`${where}: shape [${shape.map(describe).join(", ")}] has an entry that is not a non-negative integer`);
    size *= d;
    if (size > Number.MAX_SAFE_INTEGER) fail(`${where}: shape [${shape.join(", ")}] has more elements than any file can hold`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) fail(`${where}: data_offsets must be [begin, end], got ${describe(offsets)}`);
  const [begin, end] = offsets;
  if (typeof begin !== "number" || typeof end !== "number" || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
    fail(`${where}: data_offsets [${offsets.map(describe).join(", ")}] must be two integers with 0 ≤ begin ≤ end`);
  }
  if (width === null) fail(`${where}: dtype ${dtype} is not supported (simdgrad reads F32, F16 and BF16)`);
  const want = size * width;
  if (end - begin !== want) {
    fail(`${where}: ${dtype} [${shape.join(", ")}] takes ${want} bytes, its data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype, shape: shape as number[], size, begin, end };
}

/** The tensors must tile the data buffer exactly: in offset order, each begins where the last ended. */
function checkCoverage(entries: HeaderEntry[], dataBytes: number): void {
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: HeaderEntry | null = null;
  for (const e of sorted) {
    if (e.end > dataBytes) fail(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] run past the end of the data (${dataBytes} bytes): the file is truncated or corrupt`);
    if (e.begin < at) fail(`tensors '${prev!.name}' and '${e.name}' overlap (bytes ${e.begin}–${at} of the data)`);
    if (e.begin > at) fail(`bytes ${at}–${e.begin} of the data belong to no tensor (before '${e.name}')`);
    at = e.end;
    prev = e;
  }
  if (at !== dataBytes) fail(`the data has ${dataBytes} bytes but the tensors cover ${at}: ${dataBytes - at} bytes belong to no tensor`);
}

function decode(bytes: Uint8Array, offset: number, n: number, dtype: string): Float32Array {
  const out = new Float32Array(n);
  if (dtype === "F32") {
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * n));
    else {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, 4 * n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
    }
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset + offset, 2 * n);
  if (dtype === "BF16") {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
  return out;
}

/** IEEE 754 binary16 bits to a number (exact: every half value is a float32 value). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// ------------------------------------------------------------------ writing

/**
 * Writes tensors as a safetensors file (F32), in the record's key order, with an optional
 * `__metadata__` map. Every name, shape and length is checked first.
 */
export function serialize(record: SafetensorsInput, opts: SerializeOptions = {}): Uint8Array {
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    throw new TypeError(`safetensors.serialize: expected an object of name → { shape, data }, got ${record === null ? "null" : Array.isArray(record) ? "an array" : typeof record}`);
  }
  if (opts === null || typeof opts !== "object") throw new TypeError("safetensors.serialize: options must be an object");
  const header = Object.create(null) as Record<string, unknown>;
  if (opts.metadata !== undefined) {
    const m = opts.metadata;
    if (m === null || typeof m !== "object" || Array.isArray(m)) throw new TypeError("safetensors.serialize: metadata must be an object of strings");
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== "string") throw new TypeError(`safetensors.serialize: metadata '${k}' must be a string, got ${typeof v}`);
    }
    header[METADATA] = { ...m };
  }
  const items: { data: ArrayLike<number>; begin: number }[] = [];
  let at = 0;
  for (const [name, t] of Object.entries(record)) {
    if (name.length === 0 || name === METADATA) throw new Error(`safetensors.serialize: '${name}' cannot name a tensor`);
    if (t === null || typeof t !== "object") throw new TypeError(`safetensors.serialize: '${name}' must be { shape, data }, got ${t === null ? "null" : typeof t}`);
    const { shape, data } = t;
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(`safetensors.serialize: '${name}' needs a shape of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const n = shape.reduce((a: number, b: number) => a * b, 1);
    if (data === null || typeof data !== "object" || typeof data.length !== "number") {
      throw new TypeError(`safetensors.serialize: '${name}' needs data (an array of numbers), got ${data === null ? "null" : typeof data}`);
    }
    if (data.length !== n) throw new RangeError(`safetensors.serialize: '${name}' has shape [${shape.join(", ")}] (${n} values) but ${data.length} values`);
    header[name] = { dtype: "F32", shape: shape.slice(), data_offsets: [at, at + 4 * n] };
    items.push({ data, begin: at });
    at += 4 * n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  const headerLen = json.length + pad;
  const out = new Uint8Array(8 + headerLen + at);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, headerLen % 2 ** 32, true);
  dv.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  json = new Uint8Array(0);
  const base = 8 + headerLen;
  for (const { data, begin } of items) {
    if (LITTLE_ENDIAN && data instanceof Float32Array) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), base + begin);
    } else {
      for (let i = 0; i < data.length; i++) dv.setFloat32(base + begin + 4 * i, data[i]!, true);
    }
  }
  return out;
}

// ------------------------------------------------------------------ a strict JSON reader

/**
 * JSON values as the header reader sees them: objects become Maps (so a repeated key is
 * caught instead of silently replacing the first), numbers are checked to be finite.
 */
type Json = null | boolean | number | string | Json[] | Map<string, Json>;

const MAX_DEPTH = 16;

/** Parses `text` as one JSON value; duplicate keys, nesting deeper than 16 and trailing data are errors. */
function parseJson(text: string): Json {
  let i = 0;
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const bad = (what: string): never => fail(`the header is not valid JSON: ${what} at character ${i}`);
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) i += 2;
      else if (c < 0x20) bad("a control character in a string");
      else i++;
    }
    if (i >= text.length) bad("an unterminated string");
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return bad("a malformed string escape");
    }
  };
  const value = (depth: number): Json => {
    if (depth > MAX_DEPTH) bad(`nesting deeper than ${MAX_DEPTH}`);
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const m = new Map<string, Json>();
      ws();
      if (text[i] === "}") {
        i++;
        return m;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') bad("expected a key");
        const k = str();
        if (m.has(k)) fail(`the header names '${k}' twice`);
        ws();
        if (text[i] !== ":") bad("expected ':'");
        i++;
        m.set(k, value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return m;
        }
        bad("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const a: Json[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return a;
        }
        bad("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const rest = text.slice(i, i + 5);
    if (rest.startsWith("true")) return (i += 4), true;
    if (rest.startsWith("false")) return (i += 5), false;
    if (rest.startsWith("null")) return (i += 4), null;
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null) return bad("an unexpected character");
    i += m[0].length;
    const num = Number(m[0]);
    if (!Number.isFinite(num)) bad(`the number ${m[0].slice(0, 40)} is out of range`);
    return num;
  };
  const v = value(0);
  ws();
  if (i !== text.length) bad("data after the header's object");
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v instanceof Map) return "an object";
  if (Array.isArray(v)) return `[${v.map(describe).join(", ")}]`;
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  return String(v);
}

/**
 * One binary serves both memories: the kernels import `env.memory` unshared, and for threads
 * the loader rewrites that one import to a shared memory with the wasm32 maximum before
 * compiling. Nothing else in the module changes (it has no data segments and no atomics of
 * its own), so shipping a second pair of binaries for threads would only add bytes.
 */

/** Maximum pages of a shared memory: the whole wasm32 address space. */
export const SHARED_MAX_PAGES = 65536;

function readU32(b: Uint8Array, pos: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw new Error("init: truncated wasm binary");
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

function writeU32(v: number, out: number[]): void {
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/**
 * A copy of `bytes` whose imported memory is declared shared, keeping its minimum and
 * setting the maximum to SHARED_MAX_PAGES. Throws if the module imports no memory.
 */
export function withSharedMemoryImport(bytes: BufferSource): Uint8Array {
  const b = bytes instanceof Uint8Array ? bytes : ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
  let pos = 8; // magic and version
  while (pos < b.length) {
    const id = b[pos]!;
    const [size, body] = readU32(b, pos + 1);
    const end = body + size;
    if (id === 2) {
      // The import section: rebuild it with the memory import's limits replaced.
      const out: number[] = [];
      let p = body;
      const [count, afterCount] = readU32(b, p);
      p = afterCount;
      writeU32(count, out);
      let found = false;
      for (let i = 0; i < count; i++) {
        const start = p;
        const [modLen, m] = readU32(b, p);
        const [fieldLen, f] = readU32(b, m + modLen);
        p = f + fieldLen;
        const kind = b[p]!;
        p++;
        for (let j = start; j < p; j++) out.push(b[j]!);
        if (kind === 0x02) {
          const flags = b[p]!;
          const [min, afterMin] = readU32(b, p + 1);
          p = afterMin;
          if (flags & 0x01) p = readU32(b, p)[1];
          out.push(0x03);
          writeU32(min, out);
          writeU32(SHARED_MAX_PAGES, out);
          found = true;
        } else {
          // Copy the rest of this import's description as it is.
          const descEnd = skipImportDesc(b, kind, p);
          for (let j = p; j < descEnd; j++) out.push(b[j]!);
          p = descEnd;
        }
      }
      if (!found) throw new Error("init: the wasm binary imports no memory");
      const head: number[] = [2];
      writeU32(out.length, head);
      const result = new Uint8Array(pos + head.length + out.length + (b.length - end));
      result.set(b.subarray(0, pos), 0);
      result.set(head, pos);
      result.set(out, pos + head.length);
      result.set(b.subarray(end), pos + head.length + out.length);
      return result;
    }
    pos = end;
  }
  throw new Error("init: the wasm binary has no import section");
}

function skipImportDesc(b: Uint8Array, kind: number, p: number): number {
  switch (kind) {
    case 0x00: // function: type index
      return readU32(b, p)[1];
    case 0x01: {
      // table: reftype, limits
      const flags = b[p + 1]!;
      let q = readU32(b, p + 2)[1];
      if (flags & 0x01) q = readU32(b, q)[1];
      return q;
    }
    case 0x03: // global: valtype, mutability
      return p + 2;
    case 0x04: // tag: attribute, type index
      return readU32(b, p + 1)[1];
    default:
      throw new Error(`init: unexpected import kind ${kind} in the wasm binary`);
  }
}

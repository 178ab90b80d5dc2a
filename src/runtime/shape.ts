/** Shapes: arrays of non-negative integers; [] is a scalar. */
export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** Checks a user-given shape and returns a frozen copy. Names `op` in the error. */
export function checkShape(shape: unknown, op: string): Shape {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: shape must be an array of integers, got ${String(shape)}`);
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      throw new RangeError(`${op}: shape ${fmtShape(shape as number[])} has a dimension that is not a non-negative integer (${String(d)})`);
    }
  }
  const n = sizeOf(shape as number[]);
  if (n * 4 > 2 ** 32) throw new RangeError(`${op}: shape ${fmtShape(shape as number[])} has ${n} elements, more than wasm32 memory can hold`);
  return Object.freeze((shape as number[]).slice());
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

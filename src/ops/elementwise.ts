/**
 * Elementwise ops: add, sub, mul (with broadcasting of a trailing-suffix operand such as a
 * bias, or of a scalar), scale, and elementwise max. Kernels: assembly/elementwise.ts.
 */
import type { Kernels } from "../runtime/kernels.js";
import type { Shape } from "../runtime/shape.js";
import { fmtShape, sameShape, sizeOf } from "../runtime/shape.js";
import type { Buf, OpDef } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import { type GeneralPlan, generalBackward, generalForward, generalPlan, generalScratchBytes } from "./broadcast.js";
import { broadcastShapes } from "./strided.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    add_same(a: number, b: number, y: number, n: number, accumulate: number): void;
    sub_same(a: number, b: number, y: number, n: number, accumulate: number): void;
    mul_same(a: number, b: number, y: number, n: number, accumulate: number): void;
    max_same(a: number, b: number, y: number, n: number): void;
    add_rows(a: number, b: number, y: number, rows: number, cols: number, accumulate: number): void;
    sub_rows(a: number, b: number, y: number, rows: number, cols: number, accumulate: number): void;
    rsub_rows(a: number, b: number, y: number, rows: number, cols: number, accumulate: number): void;
    mul_rows(a: number, b: number, y: number, rows: number, cols: number, accumulate: number): void;
    add_scalar(a: number, s: number, y: number, n: number, accumulate: number): void;
    sub_scalar(a: number, s: number, y: number, n: number, accumulate: number): void;
    rsub_scalar(a: number, s: number, y: number, n: number, accumulate: number): void;
    mul_scalar(a: number, s: number, y: number, n: number, accumulate: number): void;
    scale_f32(x: number, y: number, n: number, s: number): void;
    axpy_f32(x: number, y: number, n: number, a: number): void;
    fill_f32(y: number, n: number, value: number): void;
    copy_f32(x: number, y: number, n: number): void;
    max_backward(a: number, b: number, dy: number, da: number, db: number, n: number, accumulate: number): void;
    col_sums(x: number, y: number, rows: number, cols: number, alpha: number, accumulate: number): void;
    col_sums_mul(x: number, w: number, y: number, rows: number, cols: number, alpha: number, accumulate: number): void;
    row_sums(x: number, y: number, rows: number, cols: number, alpha: number, accumulate: number): void;
    // sum_all and dot_f32 (assembly/reduce.ts), used by the scalar-operand gradients here,
    // are declared once, in src/ops/reduce.ts.
  }
}

/**
 * How two operand shapes combine:
 * - "same": equal shapes.
 * - "rows": the smaller one's shape is a trailing suffix of the larger's (a bias [C] with
 *   [N, C]); the larger is viewed as [rows, cols] with cols = size of the smaller.
 * - "scalar": the smaller one has a single element and a shape of all ones no longer than
 *   the other's ([] or [1] or [1, 1] …).
 * - "general": any other pair that broadcasts by NumPy rules (aligned at the right, each
 *   pair of dimensions equal or one of them 1): the strided path of ./broadcast.ts.
 * `big` is which operand (0 = a, 1 = b) has the output's shape (for "general", 0).
 */
export interface Broadcast {
  kind: "same" | "rows" | "scalar" | "general";
  big: 0 | 1;
  shape: Shape;
  rows: number;
  cols: number;
  /** kind "general": the strided path's kernel calls, worked out by `prepare` (a graph's plan). */
  general?: GeneralPlan;
}

function isSuffix(small: Shape, big: Shape): boolean {
  if (small.length > big.length) return false;
  const off = big.length - small.length;
  for (let i = 0; i < small.length; i++) if (small[i] !== big[off + i]) return false;
  return true;
}

function isScalarLike(s: Shape, other: Shape): boolean {
  return s.length <= other.length && s.every((d) => d === 1);
}

/** The broadcast rule of add/sub/mul; throws `${op}: shapes do not broadcast: a is [..], b is [..]`. */
export function broadcast(op: string, a: Shape, b: Shape): Broadcast {
  if (a === undefined || b === undefined) throw new Error(`${op}: expects 2 inputs`);
  if (sameShape(a, b)) return { kind: "same", big: 0, shape: a, rows: 1, cols: sizeOf(a) };
  for (const big of [0, 1] as const) {
    const L = big === 0 ? a : b;
    const S = big === 0 ? b : a;
    if (isSuffix(S, L)) {
      const lead = L.slice(0, L.length - S.length);
      // A suffix of all ones is a scalar too; the scalar kernels are faster.
      if (sizeOf(S) === 1 && S.every((d) => d === 1)) return { kind: "scalar", big, shape: L, rows: sizeOf(L), cols: 1 };
      return { kind: "rows", big, shape: L, rows: sizeOf(lead), cols: sizeOf(S) };
    }
  }
  for (const big of [0, 1] as const) {
    const L = big === 0 ? a : b;
    const S = big === 0 ? b : a;
    if (isScalarLike(S, L)) return { kind: "scalar", big, shape: L, rows: sizeOf(L), cols: 1 };
  }
  return { kind: "general", big: 0, shape: broadcastShapes(op, a, b), rows: 0, cols: 0 };
}

function twoInputs(op: string, inputs: readonly Shape[]): [Shape, Shape] {
  if (inputs.length !== 2) throw new Error(`${op}: expects 2 inputs, got ${inputs.length}`);
  return [inputs[0]!, inputs[1]!];
}

type Kind = "add" | "sub" | "mul";

/** Forward of add/sub/mul under broadcast `bc`. */
function binaryForward(kind: Kind, k: Kernels, a: Buf, b: Buf, y: Buf, bc: Broadcast): void {
  if (bc.kind === "general") {
    generalForward(kind, k, a, b, y, bc.general);
    return;
  }
  if (bc.kind === "same") {
    k[`${kind}_same`](a.ptr, b.ptr, y.ptr, y.size, 0);
    return;
  }
  const big = bc.big === 0 ? a : b;
  const small = bc.big === 0 ? b : a;
  // With the small operand first, sub is the reversed subtraction; add and mul commute.
  const name = kind === "sub" && bc.big === 1 ? "rsub" : kind;
  if (bc.kind === "rows") k[`${name}_rows`](big.ptr, small.ptr, y.ptr, bc.rows, bc.cols, 0);
  else k[`${name}_scalar`](big.ptr, small.ptr, y.ptr, y.size, 0);
}

/** Sample shapes of the broadcasting binary ops: same, a bias row, a scalar, either side, general. */
const BINARY_SAMPLES = [
  { label: "same", inputs: [[3, 4], [3, 4]] },
  { label: "bias row", inputs: [[2, 3, 4], [4]] },
  { label: "row on the left", inputs: [[3, 4], [2, 3, 4]] },
  { label: "scalar", inputs: [[3, 4], []] },
  { label: "scalar on the left", inputs: [[1, 1], [3, 4]] },
  { label: "column (general)", inputs: [[3, 4], [3, 1]] },
  { label: "outer (general)", inputs: [[3, 1], [1, 4]] },
] as const;

function makeBinary(kind: Kind): OpDef<void, Broadcast> {
  return defineOp<void, Broadcast>({
    name: kind,
    inPlace: true,
    shape(inputs) {
      const [a, b] = twoInputs(kind, inputs);
      return broadcast(kind, a, b).shape;
    },
    scratchBytes(inputs) {
      const [a, b] = twoInputs(kind, inputs);
      const bc = broadcast(kind, a, b);
      return bc.kind === "general" ? generalScratchBytes(a, b, bc.shape) : 0;
    },
    prepare(inputs) {
      const bc = broadcast(kind, inputs[0]!, inputs[1]!);
      if (bc.kind === "general") bc.general = generalPlan(inputs[0]!, inputs[1]!, bc.shape);
      return bc;
    },
    forward(k, x, y, _a, env) {
      binaryForward(kind, k, x[0]!, x[1]!, y, env.prep ?? broadcast(kind, x[0]!.shape, x[1]!.shape));
    },
    backward(k, x, y, dy, dx, _attrs, env) {
      const bc = env.prep ?? broadcast(kind, x[0]!.shape, x[1]!.shape);
      if (bc.kind === "general") {
        // A fresh gradient is zeroed first: the strided path adds.
        for (let i = 0; i < 2; i++) if (env.fresh! & (1 << i)) k.fill_f32(dx[i]!.ptr, dx[i]!.size, 0);
        generalBackward(kind, k, x, y, dy, dx, env.scratch, bc.general);
        return;
      }
      const n = dy.size;
      for (let i = 0; i < 2; i++) {
        const d = dx[i];
        if (!d) continue;
        const sign = kind === "sub" && i === 1 ? -1 : 1;
        const isBig = bc.kind === "same" || bc.big === i;
        const acc = env.fresh! & (1 << i) ? 0 : 1;
        if (kind === "mul") {
          const other = x[1 - i]!;
          // d(a·b)/da = b, shaped by broadcasting.
          if (isBig) {
            if (bc.kind === "same") k.mul_same(dy.ptr, other.ptr, d.ptr, n, acc);
            else if (bc.kind === "rows") k.mul_rows(dy.ptr, other.ptr, d.ptr, bc.rows, bc.cols, acc);
            else k.mul_scalar(dy.ptr, other.ptr, d.ptr, n, acc);
          } else if (bc.kind === "rows") {
            k.col_sums_mul(dy.ptr, other.ptr, d.ptr, bc.rows, bc.cols, 1, acc);
          } else {
            k.dot_f32(dy.ptr, other.ptr, n, d.ptr, acc);
          }
        } else if (isBig) {
          // ±dy: a copy when fresh (copy_nd, the sign as its scale), else added.
          if (acc) k.axpy_f32(dy.ptr, d.ptr, n, sign);
          else k.copy_nd(dy.ptr, d.ptr, 1, 1, 1, n, 0, 0, 0, 1, 0, 0, 0, 1, sign, 0);
        } else if (bc.kind === "rows") {
          k.col_sums(dy.ptr, d.ptr, bc.rows, bc.cols, sign, acc);
        } else {
          k.sum_all(dy.ptr, n, d.ptr, sign, acc);
        }
      }
    },
    overwrites: [0, 1],
    // Add and sub read no values in backward (but the general path may read y); mul reads the other operand.
    backwardReads: { inputs: kind === "mul" ? [0, 1] : [], output: true },
    samples: BINARY_SAMPLES.map((c) => ({ label: c.label, inputs: c.inputs, attrs: undefined })),
    badSamples: [
      { inputs: [[3, 4], [3]], attrs: undefined },
      { inputs: [[3, 4]], attrs: undefined, message: "expects 2 inputs" },
    ],
  });
}

/** a + b, elementwise; a trailing-suffix operand (a bias) or a scalar broadcasts. */
export const addOp: OpDef<void, Broadcast> = makeBinary("add");
/** a − b, elementwise, broadcasting as add. */
export const subOp: OpDef<void, Broadcast> = makeBinary("sub");
/** a·b, elementwise, broadcasting as add. */
export const mulOp: OpDef<void, Broadcast> = makeBinary("mul");

export interface ScaleAttrs {
  s: number;
}

/** s·a for a number s fixed when the op is built. */
export const scaleOp: OpDef<ScaleAttrs> = defineOp<ScaleAttrs>({
  name: "scale",
  inPlace: true,
  shape(inputs, attrs) {
    if (inputs.length !== 1) throw new Error(`scale: expects 1 input, got ${inputs.length}`);
    if (attrs == null || typeof attrs.s !== "number" || !Number.isFinite(attrs.s)) {
      throw new Error(`scale: the factor s must be a finite number, got ${String(attrs?.s)} (a is ${fmtShape(inputs[0]!)})`);
    }
    return inputs[0]!;
  },
  forward(k, x, y, attrs) {
    k.scale_f32(x[0]!.ptr, y.ptr, y.size, attrs.s);
  },
  backward(k, _x, _y, dy, dx, attrs) {
    const d = dx[0];
    if (d) k.axpy_f32(dy.ptr, d.ptr, dy.size, attrs.s);
  },
  backwardReads: { inputs: [], output: false },
  samples: [
    { inputs: [[3, 4]], attrs: { s: -1.5 } },
    { inputs: [[]], attrs: { s: 0.25 } },
  ],
  badSamples: [{ inputs: [[3]], attrs: { s: NaN }, message: "finite number" }],
});

/**
 * max(a, b), elementwise; operands broadcast by NumPy rules (shapes that differ run the
 * strided path of ./broadcast.ts). The gradient goes to the larger input; on ties it is
 * split equally, half to each (as PyTorch's `maximum`).
 */
export const maxOp: OpDef<void, GeneralPlan | null> = defineOp<void, GeneralPlan | null>({
  name: "max",
  inPlace: true,
  shape(inputs) {
    const [a, b] = twoInputs("max", inputs);
    return broadcast("max", a, b).shape;
  },
  scratchBytes(inputs) {
    const [a, b] = twoInputs("max", inputs);
    return sameShape(a, b) ? 0 : generalScratchBytes(a, b, broadcast("max", a, b).shape);
  },
  prepare(inputs) {
    const [a, b] = twoInputs("max", inputs);
    return sameShape(a, b) ? null : generalPlan(a, b, broadcast("max", a, b).shape);
  },
  forward(k, x, y, _attrs, env) {
    if (!sameShape(x[0]!.shape, x[1]!.shape)) generalForward("max", k, x[0]!, x[1]!, y, env.prep ?? undefined);
    else k.max_same(x[0]!.ptr, x[1]!.ptr, y.ptr, y.size);
  },
  backward(k, x, y, dy, dx, _attrs, env) {
    const da = dx[0] ?? null;
    const db = dx[1] ?? null;
    if (!da && !db) return;
    if (!sameShape(x[0]!.shape, x[1]!.shape)) {
      generalBackward("max", k, x, y, dy, dx, env.scratch, env.prep ?? undefined);
      return;
    }
    // Pointer 0 tells the kernel that gradient is not wanted (no tensor lives at 0).
    k.max_backward(x[0]!.ptr, x[1]!.ptr, dy.ptr, da ? da.ptr : 0, db ? db.ptr : 0, dy.size, 1);
  },
  backwardReads: { inputs: [0, 1], output: true },
  // Values far apart (no ties within the gradcheck step).
  samples: [
    { inputs: [[3, 5], [3, 5]], attrs: undefined, values: (i, n) => Array.from({ length: n }, (_, j) => ((j * 7 + i * 3) % 11) * 0.3 - 1.5 + i * 0.05) },
    { label: "broadcast", inputs: [[3, 5], [5]], attrs: undefined, values: (i, n) => Array.from({ length: n }, (_, j) => ((j * 7 + i * 3) % 11) * 0.3 - 1.5 + i * 0.05) },
  ],
  badSamples: [{ inputs: [[3], [4]], attrs: undefined }],
});

// ------------------------------------------------------------------ methods (g.add, sg.add, …)

export const methods = {
  /** Elementwise a + b; operands broadcast by NumPy rules (a bias [C] with [N, C], a single
   *  value, [N, 1] with [1, C]), and each gradient is summed back to its operand's shape. */
  add: method(2, (a: In, b: In) => call(addOp, [a, b], undefined)),
  /** Elementwise a − b, broadcasting as add. */
  sub: method(2, (a: In, b: In) => call(subOp, [a, b], undefined)),
  /** Elementwise product a·b (the Hadamard product), broadcasting as add. */
  mul: method(2, (a: In, b: In) => call(mulOp, [a, b], undefined)),
  /** s·a for a number s. */
  scale: method(2, (a: In, s: number) => {
    if (typeof s !== "number" || !Number.isFinite(s)) throw new TypeError(`scale: the factor must be a finite number, got ${String(s)}`);
    return call(scaleOp, [a], { s });
  }),
  /** Elementwise max(a, b), broadcasting as add; the gradient goes to the larger input (split
   *  equally on ties; NaN in either gives NaN). */
  max: method(2, (a: In, b: In) => call(maxOp, [a, b], undefined)),
};

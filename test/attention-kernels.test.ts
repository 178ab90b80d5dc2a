/**
 * Attention kernels (assembly/attention.ts) against a float64 reference written the
 * composed way: S = scale·Q·Kᵀ (+ causal mask), P = softmax(S) row by row, O = P·V, and
 * its gradient dV = Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − rowsum(P∘dP)), dQ = scale·dS·K,
 * dK = scale·dSᵀ·Q.
 *
 * Tolerance of an element: |got − want| ≤ 2⁻²³·(4·(T + dh) + 8·dh·σ)·mag, where mag is the
 * same sum taken over absolute values (Σ_c P·|V| for O, and so on) and σ is the largest
 * scale·Σ_d|q_d·k_d| of the slice: an f32 error of the scores grows with σ and moves
 * every probability relatively by that much. The logsumexp L is held to
 * 2⁻²³·(4·(T + dh) + 8·dh·σ)·(1 + |L|).
 */
import { describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import "../src/ops/attention.js";
import { type Guarded, expectSameBits, guarded, kernels, randomArray, runtime } from "./helpers.js";
import { factor, reference } from "./attention-reference.js";

const U = 2 ** -23;

function expectClose(
  what: string, got: Float32Array, want: Float64Array, mag: Float64Array, base: Float64Array | null,
  per: number, fac: (slice: number) => number,
): void {
  for (let i = 0; i < want.length; i++) {
    // A base value the kernel adds to costs one more rounding relative to it.
    const tol = fac(Math.floor(i / per)) * mag[i]! + (base ? 2 * U * Math.abs(base[i]!) : 0) + 1e-30;
    const w = want[i]! + (base ? base[i]! : 0);
    const err = Math.abs(got[i]! - w);
    if (!(err <= tol)) {
      throw new Error(`${what}: element ${i} is ${got[i]}, expected ${w} (error ${err.toExponential(2)}, tolerance ${tol.toExponential(2)})`);
    }
  }
}

interface Bufs {
  q: Guarded;
  k: Guarded;
  v: Guarded;
  o: Guarded;
  lse: Guarded;
  g: Guarded;
  dq: Guarded;
  dk: Guarded;
  dv: Guarded;
  scratch: Guarded;
  free(): void;
}

function alloc(sg: SimdGrad, nbh: number, T: number, dh: number): Bufs {
  const n = nbh * T * dh;
  const sb = kernels(sg).attention_scratch_bytes(T, dh);
  expect(sb % 16).toBe(0);
  const b = {
    q: guarded(sg, n), k: guarded(sg, n), v: guarded(sg, n), o: guarded(sg, n), lse: guarded(sg, nbh * T),
    g: guarded(sg, n), dq: guarded(sg, n), dk: guarded(sg, n), dv: guarded(sg, n), scratch: guarded(sg, sb / 4),
  };
  return {
    ...b,
    free() {
      for (const x of Object.values(b)) x.free();
    },
  };
}

function checkGuards(b: Bufs): void {
  for (const x of [b.q, b.k, b.v, b.o, b.lse, b.g, b.dq, b.dk, b.dv, b.scratch]) x.check();
}

/** Runs forward and backward for one case and compares everything with the reference. */
function runCase(sg: SimdGrad, nbh: number, T: number, dh: number, causal: boolean, scale: number, amp = 1): void {
  const K = kernels(sg);
  const n = nbh * T * dh;
  const q = randomArray(n, 11 + T * 7 + dh, -amp, amp);
  const k = randomArray(n, 23 + T + dh * 5, -amp, amp);
  const v = randomArray(n, 37 + T * 3 + dh);
  const g = randomArray(n, 41 + T + dh);
  const base = randomArray(n, 53 + T + dh); // what dq/dk/dv hold before: the kernel adds
  const b = alloc(sg, nbh, T, dh);
  try {
    b.q.set(q);
    b.k.set(k);
    b.v.set(v);
    b.g.set(g);
    b.dq.set(base);
    b.dk.set(base);
    b.dv.set(base);
    const what = `nbh=${nbh} T=${T} dh=${dh} causal=${causal} scale=${scale}`;
    K.attention_forward(nbh, T, dh, 1, dh, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, scale, causal ? 1 : 0, b.scratch.ptr);
    // The backward must not depend on what forward left in the scratch.
    b.scratch.view().fill(NaN);
    K.attention_backward(nbh, T, dh, 1, dh, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, b.g.ptr,
      b.dq.ptr, b.dk.ptr, b.dv.ptr, scale, causal ? 1 : 0, b.scratch.ptr, 0);
    checkGuards(b);
    const r = reference(nbh, T, dh, q, k, v, g, scale, causal);
    const fac = (s: number) => factor(T, dh, r.sigma[s]!);
    const base64 = Float64Array.from(base);
    expectClose(`${what}: O`, b.o.view(), r.o, r.oMag, null, T * dh, fac);
    const ones = new Float64Array(nbh * T);
    for (let i = 0; i < ones.length; i++) ones[i] = 1 + Math.abs(r.lse[i]!);
    expectClose(`${what}: L`, b.lse.view(), r.lse, ones, null, T, fac);
    expectClose(`${what}: dQ`, b.dq.view(), r.dq, r.dqMag, base64, T * dh, fac);
    expectClose(`${what}: dK`, b.dk.view(), r.dk, r.dkMag, base64, T * dh, fac);
    expectClose(`${what}: dV`, b.dv.view(), r.dv, r.dvMag, base64, T * dh, fac);
  } finally {
    b.free();
  }
}

describe("attention kernels vs a float64 composed reference", () => {
  const Ts = [1, 2, 3, 5, 8, 17, 31, 33, 64, 65, 129];
  const dhs = [1, 3, 8, 13, 16, 64];
  for (const causal of [false, true]) {
    it(`${causal ? "causal" : "full"}: T ∈ {${Ts.join(", ")}} × dh ∈ {${dhs.join(", ")}}, two slices`, async () => {
      const sg = await runtime();
      for (const T of Ts) for (const dh of dhs) runCase(sg, 2, T, dh, causal, 1 / Math.sqrt(dh));
    });
  }

  it("T past several blocks (200, 257) and an odd slice count", async () => {
    const sg = await runtime();
    for (const causal of [false, true]) {
      runCase(sg, 3, 200, 16, causal, 0.25);
      runCase(sg, 1, 257, 8, causal, 0.3);
    }
  });

  it("large scores stay finite and exact enough (scale 50, scores up to ±800)", async () => {
    const sg = await runtime();
    for (const causal of [false, true]) runCase(sg, 2, 40, 16, causal, 50, 1);
  });

  it("T = 0 and nbh = 0 touch nothing; dh = 0 gives the uniform logsumexp", async () => {
    const sg = await runtime();
    const K = kernels(sg);
    expect(K.attention_scratch_bytes(0, 16)).toBe(0);
    const b = alloc(sg, 2, 5, 0);
    try {
      K.attention_forward(0, 5, 4, 1, 4, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, 1, 0, b.scratch.ptr);
      K.attention_forward(2, 0, 4, 1, 4, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, 1, 0, b.scratch.ptr);
      expect(Array.from(b.lse.view()).every(Number.isNaN)).toBe(true);
      K.attention_forward(2, 5, 0, 1, 0, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, 1, 1, b.scratch.ptr);
      const lse = Array.from(b.lse.view());
      for (let i = 0; i < 10; i++) expect(lse[i]).toBeCloseTo(Math.log((i % 5) + 1), 6);
      checkGuards(b);
    } finally {
      b.free();
    }
  });

  it("a zero pointer skips that gradient; one buffer for all three sums them", async () => {
    const sg = await runtime();
    const K = kernels(sg);
    const nbh = 2, T = 37, dh = 12, n = nbh * T * dh, scale = 0.3;
    const q = randomArray(n, 5), k = randomArray(n, 6), v = randomArray(n, 7), g = randomArray(n, 8);
    const b = alloc(sg, nbh, T, dh);
    try {
      b.q.set(q); b.k.set(k); b.v.set(v); b.g.set(g);
      K.attention_forward(nbh, T, dh, 1, dh, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, scale, 1, b.scratch.ptr);
      const r = reference(nbh, T, dh, q, k, v, g, scale, true);
      const fac = (s: number) => factor(T, dh, r.sigma[s]!);
      for (const which of ["dq", "dk", "dv"] as const) {
        b.dq.view().fill(0); b.dk.view().fill(0); b.dv.view().fill(0);
        K.attention_backward(nbh, T, dh, 1, dh, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, b.g.ptr,
          which === "dq" ? b.dq.ptr : 0, which === "dk" ? b.dk.ptr : 0, which === "dv" ? b.dv.ptr : 0, scale, 1, b.scratch.ptr, 0);
        for (const other of ["dq", "dk", "dv"] as const) {
          if (other === which) expectClose(which, b[other].view(), r[other], r[`${other}Mag`], null, T * dh, fac);
          else expect(b[other].view().every((x) => x === 0), `${other} untouched when only ${which} is asked`).toBe(true);
        }
      }
      b.dq.view().fill(0);
      K.attention_backward(nbh, T, dh, 1, dh, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, b.g.ptr,
        b.dq.ptr, b.dq.ptr, b.dq.ptr, scale, 1, b.scratch.ptr, 0);
      const sum = r.dq.map((x, i) => x + r.dk[i]! + r.dv[i]!);
      const mag = r.dqMag.map((x, i) => x + r.dkMag[i]! + r.dvMag[i]!);
      expectClose("dq = dk = dv", b.dq.view(), sum, mag, null, T * dh, fac);
      checkGuards(b);
    } finally {
      b.free();
    }
  });

  it("NaN in one query row stays in that row (and its slice's key/value gradients)", async () => {
    const sg = await runtime();
    const K = kernels(sg);
    const nbh = 2, T = 9, dh = 8, n = nbh * T * dh;
    const q = randomArray(n, 1);
    q[3 * dh + 2] = NaN; // slice 0, row 3
    const b = alloc(sg, nbh, T, dh);
    try {
      b.q.set(q); b.k.set(randomArray(n, 2)); b.v.set(randomArray(n, 3));
      K.attention_forward(nbh, T, dh, 1, dh, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, 0.5, 1, b.scratch.ptr);
      const o = b.o.view();
      for (let i = 0; i < n; i++) expect(Number.isNaN(o[i]!), `O[${i}]`).toBe(i >= 3 * dh && i < 4 * dh);
    } finally {
      b.free();
    }
  });
});

describe("attention_backward writing its gradients fresh", () => {
  it("fresh bits give, bit for bit, the sums into zeros whatever the buffers held (NaN), per gradient; heads in the rows too", async () => {
    const sg = await runtime();
    const K = kernels(sg);
    // [nbh, T, dh, heads]: contiguous slices, and heads side by side in rows of heads·dh.
    for (const [nbh, T, dh, heads] of [[2, 33, 8, 1], [6, 17, 4, 3], [4, 70, 16, 2]] as const) {
      const n = nbh * T * dh;
      const ld = heads * dh;
      const b = alloc(sg, nbh, T, dh);
      try {
        b.q.set(randomArray(n, 1 + T));
        b.k.set(randomArray(n, 2 + T));
        b.v.set(randomArray(n, 3 + T));
        b.g.set(randomArray(n, 4 + T));
        K.attention_forward(nbh, T, dh, heads, ld, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, 0.4, 1, b.scratch.ptr);
        const run = (fresh: number, fill: number) => {
          for (const d of [b.dq, b.dk, b.dv]) d.view().fill(fill);
          K.attention_backward(nbh, T, dh, heads, ld, 0, b.q.ptr, b.k.ptr, b.v.ptr, b.o.ptr, b.lse.ptr, b.g.ptr,
            b.dq.ptr, b.dk.ptr, b.dv.ptr, 0.4, 1, b.scratch.ptr, fresh);
          checkGuards(b);
          return [b.dq, b.dk, b.dv].map((d) => d.view().slice());
        };
        const want = run(0, 0);
        const all = run(7, NaN);
        ["dq", "dk", "dv"].forEach((name, i) => expectSameBits(all[i]!, want[i]!, `[${nbh}, ${T}, ${dh}] heads ${heads}: ${name} fresh`));
        // Only dk fresh: dq and dv still add to what they hold (as with no fresh bit at all).
        const added = run(0, 0.5);
        expect(added[0]![0]).not.toBe(want[0]![0]);
        const some = run(2, 0.5);
        expectSameBits(some[1]!, want[1]!, "dk alone fresh");
        expectSameBits(some[0]!, added[0]!, "dq added to 0.5");
        expectSameBits(some[2]!, added[2]!, "dv added to 0.5");
      } finally {
        b.free();
      }
    }
  });
});

/**
 * Checks, while a graph or an eager op runs, that the scratch of every kernel that takes one
 * (GEMM, convolution, attention) lies inside one live block of the arena: [scratch, scratch +
 * need) must not run past the end of the block holding `scratch`, the need as the module's own
 * *_scratch_bytes rule gives it for the call's geometry. A scratch area planned smaller than a kernel
 * uses spills into whatever block follows it (a tensor, another thread's scratch), and the
 * damage can depend on timing (two threads packing at once); this check finds the short
 * scratch on every call, on one thread, whatever the memory next to it holds.
 *
 * Scratch that TypeScript carves up itself (a broadcast gradient's temporaries, a reduction's
 * intermediate results) has no kernel rule to check against, so every scratch block allocated
 * while `f` runs (a graph's, the eager ops', the workers') gets a guard: GUARD_BYTES more,
 * filled with a pattern that must still be there when the block is freed or `f` returns.
 */
import type { Runtime } from "../src/runtime/runtime.js";
import type { Kernels } from "../src/runtime/kernels.js";

export interface ScratchAudit {
  /** Kernel calls checked. */
  calls: number;
  /** What ran past its block, one line per call (empty when all fit). */
  violations: string[];
}

/** Bytes after each scratch block that must keep their pattern. */
export const GUARD_BYTES = 64 * 1024;
/** The guard's pattern: a NaN no kernel writes. */
const PATTERN = 0x7fc0dead;
/** What the runtime and graphs name their scratch allocations (src/runtime, src/graph/plan.ts). */
const SCRATCH_NAMES = new Set(["scratch", "graph scratch", "threads"]);

/** The live block holding byte `p`, as [start, end) (a guarded block ends where its guard begins), or null. */
function blockOf(rt: Runtime, p: number, guarded: Map<number, number>): [number, number] | null {
  const live = (rt.arena as unknown as { live: Map<number, number> }).live;
  for (const [start, size] of live) if (p >= start && p < start + size) return [start, start + (guarded.get(start) ?? size)];
  return null;
}

type ArenaLike = { alloc(bytes: number, what?: string): number; release(offset: number): void; memory: WebAssembly.Memory };

/** Gives scratch blocks allocated until `done()` a guard; `done` checks the guards left and restores the arena. */
function guardScratch(rt: Runtime, violations: string[], guarded: Map<number, number>): () => void {
  const arena = rt.arena as unknown as ArenaLike;
  const alloc = arena.alloc;
  const release = arena.release;
  const words = (p: number, bytes: number) => new Uint32Array(arena.memory.buffer, p + bytes, GUARD_BYTES / 4);
  const check = (p: number) => {
    const bytes = guarded.get(p)!;
    const g = words(p, bytes);
    const bad = g.findIndex((w) => w !== PATTERN);
    if (bad >= 0) violations.push(`a write ${bad * 4} bytes past the end of a ${bytes}-byte scratch block at ${p}`);
    guarded.delete(p);
  };
  arena.alloc = (bytes: number, what?: string) => {
    if (!SCRATCH_NAMES.has(what ?? "")) return alloc.call(arena, bytes, what);
    const size = Math.ceil(bytes / 16) * 16;
    const p = alloc.call(arena, size + GUARD_BYTES, what);
    guarded.set(p, size);
    words(p, size).fill(PATTERN);
    return p;
  };
  arena.release = (offset: number) => {
    if (guarded.has(offset)) check(offset);
    release.call(arena, offset);
  };
  return () => {
    for (const p of [...guarded.keys()]) check(p);
    delete (arena as Partial<ArenaLike>).alloc;
    delete (arena as Partial<ArenaLike>).release;
  };
}

/** Runs `f` with the runtime's scratch-taking kernels checked; returns what the check found. */
export function auditScratch(rt: Runtime, f: () => void): ScratchAudit {
  const real = rt.kernels;
  const audit: ScratchAudit = { calls: 0, violations: [] };
  const guarded = new Map<number, number>();
  const check = (what: string, need: number, scratch: number) => {
    audit.calls++;
    if (need === 0) return;
    const block = blockOf(rt, scratch, guarded);
    if (block === null) audit.violations.push(`${what}: scratch ${scratch} is in no live block`);
    else if (scratch + need > block[1]) {
      audit.violations.push(`${what}: needs ${need} bytes of scratch at ${scratch}, its block ends ${block[1] - scratch} bytes on`);
    }
  };
  const gemmCheck = (name: string, m: number, n: number, k: number, scratch: number) =>
    check(`${name} ${m}×${n}×${k}`, real.gemm_scratch_bytes(m, n, k), scratch);
  // A convolution's patch matrix: m = N·HO·WO rows, k = KH·KW·C columns, f filters (the
  // window's KH and KW packed in one argument: KH | KW << 16).
  const convCheck = (name: string, n: number, c: number, f: number, ho: number, wo: number, ksize: number, scratch: number) => {
    const kh = ksize & 0xffff, kw = ksize >>> 16;
    check(`${name} N=${n} C=${c} F=${f} ${ho}×${wo} out, ${kh}×${kw}`, real.conv2d_scratch_bytes(n * ho * wo, kh * kw * c, f), scratch);
  };
  const wrapped = { ...real } as Kernels;
  wrapped.gemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch) => {
    gemmCheck("gemm", m, n, k, scratch);
    real.gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch);
  };
  wrapped.gemm_bias_act = (tA, tB, m, n, k, a, lda, b, ldb, bias, act, p, z, c, ldc, scratch) => {
    gemmCheck("gemm_bias_act", m, n, k, scratch);
    real.gemm_bias_act(tA, tB, m, n, k, a, lda, b, ldb, bias, act, p, z, c, ldc, scratch);
  };
  wrapped.conv2d_forward = (x, fl, y, n, h, w, c, f, ho, wo, ks, st, dil, pad, row0, rows, scratch) => {
    convCheck("conv2d_forward", n, c, f, ho, wo, ks, scratch);
    real.conv2d_forward(x, fl, y, n, h, w, c, f, ho, wo, ks, st, dil, pad, row0, rows, scratch);
  };
  wrapped.conv2d_forward_bias_act = (x, fl, y, n, h, w, c, f, ho, wo, ks, st, dil, pad, row0, rows, bias, act, p, z, scratch) => {
    convCheck("conv2d_forward_bias_act", n, c, f, ho, wo, ks, scratch);
    real.conv2d_forward_bias_act(x, fl, y, n, h, w, c, f, ho, wo, ks, st, dil, pad, row0, rows, bias, act, p, z, scratch);
  };
  wrapped.conv2d_backward_filter = (x, dy, df, n, h, w, c, f, ho, wo, ks, st, dil, pad, q0, qn, f0, fn, acc, scratch) => {
    convCheck("conv2d_backward_filter", n, c, f, ho, wo, ks, scratch);
    real.conv2d_backward_filter(x, dy, df, n, h, w, c, f, ho, wo, ks, st, dil, pad, q0, qn, f0, fn, acc, scratch);
  };
  wrapped.conv2d_backward_input = (dy, fl, dx, n, h, w, c, f, ho, wo, ks, st, dil, pad, acc, scratch) => {
    convCheck("conv2d_backward_input", n, c, f, ho, wo, ks, scratch);
    real.conv2d_backward_input(dy, fl, dx, n, h, w, c, f, ho, wo, ks, st, dil, pad, acc, scratch);
  };
  wrapped.attention_forward = (nbh, t, dh, heads, ld, s0, q, k, v, o, lse, scale, causal, scratch) => {
    check(`attention_forward T=${t} dh=${dh}`, real.attention_scratch_bytes(t, dh), scratch);
    real.attention_forward(nbh, t, dh, heads, ld, s0, q, k, v, o, lse, scale, causal, scratch);
  };
  wrapped.attention_backward = (nbh, t, dh, heads, ld, s0, q, k, v, o, lse, dout, dq, dk, dv, scale, causal, scratch, fresh) => {
    check(`attention_backward T=${t} dh=${dh}`, real.attention_scratch_bytes(t, dh), scratch);
    real.attention_backward(nbh, t, dh, heads, ld, s0, q, k, v, o, lse, dout, dq, dk, dv, scale, causal, scratch, fresh);
  };
  rt.kernels = wrapped;
  const unguard = guardScratch(rt, audit.violations, guarded);
  try {
    f();
  } finally {
    rt.kernels = real;
    unguard();
  }
  return audit;
}

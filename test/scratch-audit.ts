/**
 * Checks, while a graph or an eager op runs, that every GEMM's packing scratch lies inside
 * one live block of the arena: [scratch, scratch + gemm_scratch_bytes(m, n, k)) must not run
 * past the end of the block holding `scratch`. A scratch area planned smaller than a kernel
 * uses spills into whatever block follows it (a tensor, another thread's scratch), and the
 * damage can depend on timing (two threads packing at once); this check finds the short
 * scratch on every call, on one thread, whatever the memory next to it holds.
 */
import type { Runtime } from "../src/runtime/runtime.js";
import type { Kernels } from "../src/runtime/kernels.js";

export interface ScratchAudit {
  /** GEMM calls checked. */
  calls: number;
  /** What ran past its block, one line per call (empty when all fit). */
  violations: string[];
}

/** The live block holding byte `p`, as [start, end), or null. */
function blockOf(rt: Runtime, p: number): [number, number] | null {
  const live = (rt.arena as unknown as { live: Map<number, number> }).live;
  for (const [start, size] of live) if (p >= start && p < start + size) return [start, start + size];
  return null;
}

/** Runs `f` with the runtime's GEMM kernels checked; returns what the check found. */
export function auditScratch(rt: Runtime, f: () => void): ScratchAudit {
  const real = rt.kernels;
  const audit: ScratchAudit = { calls: 0, violations: [] };
  const check = (name: string, m: number, n: number, k: number, scratch: number) => {
    audit.calls++;
    const need = real.gemm_scratch_bytes(m, n, k);
    if (need === 0) return;
    const block = blockOf(rt, scratch);
    if (block === null) audit.violations.push(`${name} ${m}×${n}×${k}: scratch ${scratch} is in no live block`);
    else if (scratch + need > block[1]) {
      audit.violations.push(`${name} ${m}×${n}×${k}: needs ${need} bytes of scratch at ${scratch}, its block ends ${block[1] - scratch} bytes on`);
    }
  };
  const wrapped = { ...real } as Kernels;
  wrapped.gemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch) => {
    check("gemm", m, n, k, scratch);
    real.gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch);
  };
  wrapped.gemm_bias_act = (tA, tB, m, n, k, a, lda, b, ldb, bias, act, p, z, c, ldc, scratch) => {
    check("gemm_bias_act", m, n, k, scratch);
    real.gemm_bias_act(tA, tB, m, n, k, a, lda, b, ldb, bias, act, p, z, c, ldc, scratch);
  };
  rt.kernels = wrapped;
  try {
    f();
  } finally {
    rt.kernels = real;
  }
  return audit;
}

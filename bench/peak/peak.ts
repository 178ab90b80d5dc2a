// Peak probe: how many 128-bit SIMD float operations per second this machine and engine
// can issue, measured with loops of many independent f32x4 chains and nothing else (no
// loads, no stores, no shuffles). The benchmarks report GEMM speed as a share of it.
//
// Every chain is x ← x·m + c with m = 0.5 and c = seed, so the values settle at 2·seed
// (no overflow, no subnormals) and nothing is loop-invariant for an optimizer to hoist.
// One step of one chain counts 8 flops (4 lanes × one multiply and one add).
//
// Bench-only module: it is not part of the simdgrad package.

// @ts-ignore: decorator
@inline function muladd(x: v128, m: v128, c: v128): v128 {
  return f32x4.add(f32x4.mul(x, m), c);
}

// @ts-ignore: decorator
@inline function madd(x: v128, m: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(x, m, c);
  } else {
    return f32x4.add(f32x4.mul(x, m), c);
  }
}

// @ts-ignore: decorator
@inline function total(a: v128): f32 {
  return f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
}

/** 1 when built with relaxed SIMD. */
export function probe_has_relaxed_simd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * `iters` steps of 8 independent mul+add chains (separate f32x4.mul and f32x4.add).
 * Work: 64·iters flops. Returns the sum of all lanes (about 64·seed) so nothing is dead.
 */
export function peak_muladd_8(iters: i32, seed: f32): f32 {
  const m = f32x4.splat(0.5);
  const c = f32x4.splat(seed);
  let x0 = f32x4.splat(0.0), x1 = f32x4.splat(0.1), x2 = f32x4.splat(0.2), x3 = f32x4.splat(0.3);
  let x4 = f32x4.splat(0.4), x5 = f32x4.splat(0.5), x6 = f32x4.splat(0.6), x7 = f32x4.splat(0.7);
  for (let i = 0; i < iters; i++) {
    x0 = muladd(x0, m, c); x1 = muladd(x1, m, c); x2 = muladd(x2, m, c); x3 = muladd(x3, m, c);
    x4 = muladd(x4, m, c); x5 = muladd(x5, m, c); x6 = muladd(x6, m, c); x7 = muladd(x7, m, c);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(x0, x1), f32x4.add(x2, x3)), f32x4.add(f32x4.add(x4, x5), f32x4.add(x6, x7)));
  return total(s);
}

/**
 * `iters` steps of 12 independent chains x ← x·m + c (fused: relaxed_madd in the relaxed
 * build, else a separate multiply and add), then the sum of all lanes. The four 12-chain
 * probes below are this loop with a constant or a run-time m.
 */
// @ts-ignore: decorator
@inline function chains_12(iters: i32, m: v128, c: v128, fused: bool): f32 {
  let x0 = f32x4.splat(0.0), x1 = f32x4.splat(0.1), x2 = f32x4.splat(0.2), x3 = f32x4.splat(0.3);
  let x4 = f32x4.splat(0.4), x5 = f32x4.splat(0.5), x6 = f32x4.splat(0.6), x7 = f32x4.splat(0.7);
  let x8 = f32x4.splat(0.8), x9 = f32x4.splat(0.9), x10 = f32x4.splat(1.0), x11 = f32x4.splat(1.1);
  for (let i = 0; i < iters; i++) {
    if (fused) {
      x0 = madd(x0, m, c); x1 = madd(x1, m, c); x2 = madd(x2, m, c); x3 = madd(x3, m, c);
      x4 = madd(x4, m, c); x5 = madd(x5, m, c); x6 = madd(x6, m, c); x7 = madd(x7, m, c);
      x8 = madd(x8, m, c); x9 = madd(x9, m, c); x10 = madd(x10, m, c); x11 = madd(x11, m, c);
    } else {
      x0 = muladd(x0, m, c); x1 = muladd(x1, m, c); x2 = muladd(x2, m, c); x3 = muladd(x3, m, c);
      x4 = muladd(x4, m, c); x5 = muladd(x5, m, c); x6 = muladd(x6, m, c); x7 = muladd(x7, m, c);
      x8 = muladd(x8, m, c); x9 = muladd(x9, m, c); x10 = muladd(x10, m, c); x11 = muladd(x11, m, c);
    }
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(x0, x1), f32x4.add(x2, x3)), f32x4.add(f32x4.add(x4, x5), f32x4.add(x6, x7))),
    f32x4.add(f32x4.add(x8, x9), f32x4.add(x10, x11)),
  );
  return total(s);
}

/**
 * `iters` steps of 12 independent mul+add chains (enough in flight to hide the latency of
 * a dependent multiply then add on current x86 and Arm cores, within 16 vector registers).
 * Work: 96·iters flops.
 */
export function peak_muladd_12(iters: i32, seed: f32): f32 {
  return chains_12(iters, f32x4.splat(0.5), f32x4.splat(seed), false);
}

/**
 * `iters` steps of 12 independent fused chains: f32x4.relaxed_madd in the relaxed build
 * (one FMA instruction where the CPU has FMA), mul+add in the SIMD128 build.
 * Work: 96·iters flops.
 */
export function peak_madd_12(iters: i32, seed: f32): f32 {
  return chains_12(iters, f32x4.splat(0.5), f32x4.splat(seed), true);
}

/**
 * peak_muladd_12 with the multiplier a value computed at run time (seed·0 + ½, ½ for any
 * finite seed) rather than a constant. Some engines rebuild a vector constant inside the loop
 * at every use (V8 15.0, in Deno 2.9.6, does: peak_muladd_12 read 15 GFLOPS there where this
 * reads 45); others are slower with this form (V8 11.3, in Node 20: 25 against 46). A
 * ceiling for any engine is the larger of the two (bench/engines.mjs).
 */
export function peak_muladd_12_rt(iters: i32, seed: f32): f32 {
  return chains_12(iters, f32x4.splat(seed * 0.0 + 0.5), f32x4.splat(seed), false);
}

/** peak_madd_12 with peak_muladd_12_rt's run-time multiplier (see there). */
export function peak_madd_12_rt(iters: i32, seed: f32): f32 {
  return chains_12(iters, f32x4.splat(seed * 0.0 + 0.5), f32x4.splat(seed), true);
}

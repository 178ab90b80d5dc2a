/**
 * Float64 reference of scaled dot-product attention written the composed way (scores,
 * mask, softmax, P·V) and its gradient, with the magnitudes the tolerances are stated
 * against. Shared by the kernel tests and the op tests.
 */
export const U = 2 ** -23;

export interface Ref {
  o: Float64Array;
  oMag: Float64Array;
  lse: Float64Array;
  dq: Float64Array;
  dqMag: Float64Array;
  dk: Float64Array;
  dkMag: Float64Array;
  dv: Float64Array;
  dvMag: Float64Array;
  /** Largest scale·Σ_d |q_d k_d| per slice. */
  sigma: Float64Array;
}

/** float64 composed attention and its gradient for nbh slices of T × dh. */
export function reference(
  nbh: number, T: number, dh: number, q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array,
  scale: number, causal: boolean,
): Ref {
  const n = nbh * T * dh;
  const r: Ref = {
    o: new Float64Array(n), oMag: new Float64Array(n), lse: new Float64Array(nbh * T),
    dq: new Float64Array(n), dqMag: new Float64Array(n), dk: new Float64Array(n), dkMag: new Float64Array(n),
    dv: new Float64Array(n), dvMag: new Float64Array(n), sigma: new Float64Array(nbh),
  };
  const P = new Float64Array(T * T);
  const dS = new Float64Array(T * T);
  const dSMag = new Float64Array(T * T);
  for (let b = 0; b < nbh; b++) {
    const at = b * T * dh;
    let sigma = 0;
    for (let i = 0; i < T; i++) {
      let m = -Infinity;
      const cEnd = causal ? i + 1 : T;
      for (let c = 0; c < T; c++) {
        let s = 0;
        let sa = 0;
        for (let d = 0; d < dh; d++) {
          s += q[at + i * dh + d]! * k[at + c * dh + d]!;
          sa += Math.abs(q[at + i * dh + d]! * k[at + c * dh + d]!);
        }
        sigma = Math.max(sigma, scale * sa);
        P[i * T + c] = c < cEnd ? scale * s : -Infinity;
        m = Math.max(m, P[i * T + c]!);
      }
      let l = 0;
      for (let c = 0; c < T; c++) l += Math.exp(P[i * T + c]! - m);
      for (let c = 0; c < T; c++) P[i * T + c] = Math.exp(P[i * T + c]! - m) / l;
      r.lse[b * T + i] = m + Math.log(l);
      for (let d = 0; d < dh; d++) {
        let s = 0;
        let sa = 0;
        for (let c = 0; c < T; c++) {
          s += P[i * T + c]! * v[at + c * dh + d]!;
          sa += P[i * T + c]! * Math.abs(v[at + c * dh + d]!);
        }
        r.o[at + i * dh + d] = s;
        r.oMag[at + i * dh + d] = sa;
      }
    }
    r.sigma[b] = sigma;
    // Backward.
    for (let i = 0; i < T; i++) {
      let D = 0;
      let DMag = 0;
      for (let d = 0; d < dh; d++) {
        D += g[at + i * dh + d]! * r.o[at + i * dh + d]!;
        DMag += Math.abs(g[at + i * dh + d]! * r.o[at + i * dh + d]!);
      }
      for (let c = 0; c < T; c++) {
        let dp = 0;
        let dpMag = 0;
        for (let d = 0; d < dh; d++) {
          dp += g[at + i * dh + d]! * v[at + c * dh + d]!;
          dpMag += Math.abs(g[at + i * dh + d]! * v[at + c * dh + d]!);
        }
        dS[i * T + c] = P[i * T + c]! * (dp - D);
        dSMag[i * T + c] = P[i * T + c]! * (dpMag + DMag);
      }
    }
    for (let i = 0; i < T; i++) {
      for (let d = 0; d < dh; d++) {
        let sq = 0, sqa = 0, sk = 0, ska = 0, sv = 0, sva = 0;
        for (let c = 0; c < T; c++) {
          sq += dS[i * T + c]! * k[at + c * dh + d]!;
          sqa += dSMag[i * T + c]! * Math.abs(k[at + c * dh + d]!);
          // i plays the key here: dK[i] = Σ_r dS[r][i]·Q[r], dV[i] = Σ_r P[r][i]·dO[r]
          sk += dS[c * T + i]! * q[at + c * dh + d]!;
          ska += dSMag[c * T + i]! * Math.abs(q[at + c * dh + d]!);
          sv += P[c * T + i]! * g[at + c * dh + d]!;
          sva += P[c * T + i]! * Math.abs(g[at + c * dh + d]!);
        }
        r.dq[at + i * dh + d] = scale * sq;
        r.dqMag[at + i * dh + d] = scale * sqa;
        r.dk[at + i * dh + d] = scale * sk;
        r.dkMag[at + i * dh + d] = scale * ska;
        r.dv[at + i * dh + d] = sv;
        r.dvMag[at + i * dh + d] = sva;
      }
    }
  }
  return r;
}

/** The tolerance factor of test/attention-kernels.test.ts (see there). */
export function factor(T: number, dh: number, sigma: number): number {
  return U * (4 * (T + dh) + 8 * dh * sigma);
}


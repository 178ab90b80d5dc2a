// Deterministic inputs shared by every implementation of a row, so all of them do the same work.

/** `n` pseudo-random values in [lo, hi) (xorshift32; the same everywhere). */
export function uniform(n, seed = 1, lo = -1, hi = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

/** One-hot rows: `rows` × `classes`, class of row r = r mod classes. */
export function oneHot(rows, classes) {
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) out[r * classes + (r % classes)] = 1;
  return out;
}

/** Why a simdgrad row cannot run yet: the first of `names` missing on `obj`, or null. */
export function missing(obj, names, prefix = "sg.") {
  for (const n of names) if (typeof obj?.[n] !== "function") return `n/a (missing: ${prefix}${n})`;
  return null;
}

/** An error message shortened for a table cell. */
export function reason(e) {
  const m = e instanceof Error ? e.message : String(e);
  return `n/a (error: ${m.length > 60 ? m.slice(0, 57) + "..." : m})`;
}

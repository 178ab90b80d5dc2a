// Checks over buffers: used to find where NaN or Inf first appears.

/** Number of the n values at x that are NaN or ±Inf. */
export function count_nonfinite(x: usize, n: i32): i32 {
  // x − x is 0 for finite x and NaN for NaN or ±Inf; NaN ≠ NaN marks the lane.
  let bad = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const d = f32x4.sub(v, v);
    bad = i32x4.sub(bad, f32x4.ne(d, d)); // a set lane is −1
  }
  let count = i32x4.extract_lane(bad, 0) + i32x4.extract_lane(bad, 1) + i32x4.extract_lane(bad, 2) + i32x4.extract_lane(bad, 3);
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v - v != 0) count++;
  }
  return count;
}

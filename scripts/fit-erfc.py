# How assembly/vmath.ts's ERFC_Q0 … ERFC_Q10 were made: erfc(a)·e^a² ≈ t·Q(t), t = 1/(1 + a/2),
# for a ∈ [0, 10.5], Q of degree 10 fitted for the least largest relative error (least
# squares reweighted toward the minimax), then rounded to float32 one coefficient at a time
# from Q0, the ones not yet rounded fitted again after each. Prints the largest relative error
# after rounding (5.0e-9) and the constants as vmath.ts declares them.
#
#   python3 scripts/fit-erfc.py        (needs numpy and mpmath; about a minute)
import mpmath as mp
import numpy as np

mp.mp.dps = 40
A_MAX = 10.5
DEG = 10
T_MIN = 1 / (1 + A_MAX / 2)
N = 3000
ts = np.cos(np.linspace(np.pi, 0, N)) * (1 - T_MIN) / 2 + (1 + T_MIN) / 2


def target(t):
    t = mp.mpf(t)
    a = 2 * (1 / t - 1)
    return mp.erfc(a) * mp.exp(a * a) / t


G = np.array([float(target(t)) for t in ts])
V = np.vander(ts, DEG + 1, increasing=True)


def fit(fixed, rounds=80):
    """Coefficients minimizing max |Q/G − 1| with those in `fixed` (index → value) held."""
    free = [i for i in range(DEG + 1) if i not in fixed]
    held = sum((V[:, i] * v for i, v in fixed.items()), np.zeros(N))
    w = np.ones(N)
    best = None
    for _ in range(rounds):
        c, *_ = np.linalg.lstsq(V[:, free] / G[:, None] * w[:, None], (1 - held / G) * w, rcond=None)
        full = np.zeros(DEG + 1)
        for i, v in fixed.items():
            full[i] = v
        full[free] = c
        err = V @ full / G - 1
        worst = np.max(np.abs(err))
        if best is None or worst < best[0]:
            best = (worst, full.copy())
        w = w * (np.abs(err) / worst + 0.5)
        w /= w.mean()
    return best[1]


fixed = {}
for i in range(DEG + 1):
    fixed[i] = float(np.float32(fit(fixed)[i]))
q = np.array([fixed[i] for i in range(DEG + 1)])
print(f"largest relative error after rounding: {np.max(np.abs(V @ q / G - 1)):.2e}")
for i in range(DEG, -1, -1):
    print(f"const ERFC_Q{i}: f32 = {float(np.float32(q[i]))!r};")

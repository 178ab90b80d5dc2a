// The fused linear layer's elementwise steps by run-time activation code (assembly/vmath.ts
// ACT_*): the activation over a span (act_forward) and its derivative times the upstream
// gradient (act_backward). (The forward is gemm_bias_act in assembly/gemm.ts; the weight,
// bias and input gradients are GEMMs and column sums.)

import {
  gelu_backward, gelu_forward, gelu_tanh_backward, gelu_tanh_forward, hardtanh_backward,
  hardtanh_forward, leaky_relu_backward, leaky_relu_forward, relu_backward, relu_forward,
  sigmoid_backward, sigmoid_forward, step_backward, step_forward, swish_backward,
  swish_forward, tanh_backward, tanh_forward,
} from "./activations";
import {
  ACT_GELU, ACT_GELU_TANH, ACT_HARDTANH, ACT_IDENTITY, ACT_LEAKY_RELU, ACT_RELU, ACT_SIGMOID, ACT_STEP,
  ACT_SWISH, ACT_TANH,
} from "./vmath";

/**
 * y ← f(x), n elements, for activation code `kind` with parameter p: the named forward
 * kernel of that kind (assembly/activations.ts), same results as act_v, the per-vector
 * form. IDENTITY: y ← x. Any other code traps (unreachable): a code without its case is a
 * mistake here, never a silent identity. y may be x. One call applies the activation
 * to a whole span (e.g. finished rows of C) through the kernel's own loop, where act_v
 * costs a call per four values.
 */
export function act_forward(kind: i32, x: usize, y: usize, n: i32, p: f32): void {
  switch (kind) {
    case ACT_STEP: { step_forward(x, y, n, p); break; }
    case ACT_SIGMOID: { sigmoid_forward(x, y, n); break; }
    case ACT_TANH: { tanh_forward(x, y, n); break; }
    case ACT_HARDTANH: { hardtanh_forward(x, y, n); break; }
    case ACT_RELU: { relu_forward(x, y, n); break; }
    case ACT_LEAKY_RELU: { leaky_relu_forward(x, y, n, p); break; }
    case ACT_SWISH: { swish_forward(x, y, n); break; }
    case ACT_GELU: { gelu_forward(x, y, n); break; }
    case ACT_GELU_TANH: { gelu_tanh_forward(x, y, n); break; }
    // Slope 1: both sides of leaky relu are x, so y = x exactly (−0 and NaN included).
    case ACT_IDENTITY: { if (x != y) leaky_relu_forward(x, y, n, 1.0); break; }
    default: unreachable();
  }
}

/**
 * dz ← dy ⊙ f′ (accumulate = 0) or dz ← dz + dy ⊙ f′ (accumulate ≠ 0), n elements, for
 * activation code `kind` with parameter p: the named backward kernel of that kind
 * (assembly/activations.ts, same results), so f′ is what act_derivative computes. x is the
 * pre-activation and y the output; SIGMOID and TANH read y, the others x, and a pointer the
 * kind does not read may be 0. The piecewise kinds select dy where f′ is 1 and give 0
 * where it is 0 (an infinite dy there gives 0, not NaN). IDENTITY: dz (+)= dy. Any other code traps. dz may alias dy.
 */
export function act_backward(kind: i32, x: usize, y: usize, dy: usize, dz: usize, n: i32, p: f32, accumulate: i32): void {
  switch (kind) {
    case ACT_STEP: { step_backward(x, dy, dz, n, p, accumulate); break; }
    case ACT_SIGMOID: { sigmoid_backward(y, dy, dz, n, accumulate); break; }
    case ACT_TANH: { tanh_backward(y, dy, dz, n, accumulate); break; }
    case ACT_HARDTANH: { hardtanh_backward(x, dy, dz, n, accumulate); break; }
    case ACT_RELU: { relu_backward(x, dy, dz, n, accumulate); break; }
    case ACT_LEAKY_RELU: { leaky_relu_backward(x, dy, dz, n, p, accumulate); break; }
    case ACT_SWISH: { swish_backward(x, dy, dz, n, accumulate); break; }
    case ACT_GELU: { gelu_backward(x, dy, dz, n, accumulate); break; }
    case ACT_GELU_TANH: { gelu_tanh_backward(x, dy, dz, n, accumulate); break; }
    // Slope 1: both sides of leaky_relu′ are 1, so dz (+)= dy exactly (x = dy is only read).
    case ACT_IDENTITY: { leaky_relu_backward(dy, dy, dz, n, 1.0, accumulate); break; }
    default: unreachable();
  }
}

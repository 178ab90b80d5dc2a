// The fused linear layer's elementwise backward step: the activation's derivative times
// the upstream gradient, for any activation code of assembly/vmath.ts. (The forward is
// gemm_bias_act in assembly/gemm.ts; the weight, bias and input gradients are GEMMs and
// column sums.)

import {
  gelu_backward, gelu_tanh_backward, hardtanh_backward, leaky_relu_backward, relu_backward,
  sigmoid_backward, step_backward, swish_backward, tanh_backward,
} from "./activations";
import {
  ACT_GELU, ACT_GELU_TANH, ACT_HARDTANH, ACT_LEAKY_RELU, ACT_RELU, ACT_SIGMOID, ACT_STEP,
  ACT_SWISH, ACT_TANH,
} from "./vmath";

/**
 * dz ← dy ⊙ f′ (accumulate = 0) or dz ← dz + dy ⊙ f′ (accumulate ≠ 0), n elements, for
 * activation code `kind` with parameter p: the named backward kernel of that kind
 * (assembly/activations.ts, same results), so f′ is what act_derivative computes. x is the
 * pre-activation and y the output; SIGMOID and TANH read y, the others x, and a pointer the
 * kind does not read may be 0. The piecewise kinds select dy where f′ is 1 and give 0
 * where it is 0 (an infinite dy there gives 0, not NaN). IDENTITY (or any other code):
 * dz (+)= dy. dz may alias dy.
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
    default: leaky_relu_backward(dy, dy, dz, n, 1.0, accumulate);
  }
}

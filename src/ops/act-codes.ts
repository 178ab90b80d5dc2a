// Activation codes: the `kind` argument of the kernels that pick an activation at run time
// (gemm_bias_act, act_forward, act_backward, act_derivative, flat_stats).
//
// THE one definition: AssemblyScript reads this file (assembly/vmath.ts re-exports it) and so
// does TypeScript (src/ops/activations.ts builds its table on it). Keep it to plain integer
// constants, which both languages compile alike. test/ops-registry.test.ts calls the module
// with every code and checks it runs the activation the TypeScript table names.
export const ACT_IDENTITY = 0;
export const ACT_STEP = 1; //       x > p ? 1 : 0        (p = threshold θ)
export const ACT_SIGMOID = 2;
export const ACT_TANH = 3;
export const ACT_HARDTANH = 4; //   clamp(x, -1, 1)
export const ACT_RELU = 5;
export const ACT_LEAKY_RELU = 6; // x > 0 ? x : p·x      (p = slope)
export const ACT_SWISH = 7; //      x·sigmoid(x)
export const ACT_GELU = 8; //       x·Φ(x), exact (erf)
export const ACT_GELU_TANH = 9; //  tanh approximation of GeLU

// A flag on gemm_bias_act's act (not a code of its own): with ACT_GELU, z receives the slope
// f′(Z) instead of Z, formed in the same pass as the activation (the backward is then one
// multiply). Any other code with the flag traps.
export const ACT_SLOPE_FLAG = 0x100;

/**
 * The full Jacobian of a node with respect to another, the notes' matrix of partial
 * derivatives J[i, j] = ∂outᵢ/∂wrtⱼ: one backward pass per output element, seeded with
 * the unit vector eᵢ. Leaf gradients are saved and restored around it.
 */
import type { Feeds, Graph } from "../graph/graph.js";
import type { Node } from "../graph/node.js";
import type { Tensor } from "../runtime/tensor.js";

export function jacobian(
  g: Graph,
  output: Node,
  wrt: Node,
  opts: { feeds?: Feeds },
  makeTensor: (shape: number[]) => Tensor,
): Tensor {
  if (!wrt.requiresGrad || (wrt.kind === "input" && wrt.grad === null)) {
    throw new Error(`jacobian: ${wrt.describe()} has no gradient; use a param, an input with { requiresGrad: true }, or a node computed from one`);
  }
  const leaves = [...g.params, ...g.inputs.filter((n) => n.requiresGrad)];
  const saved = leaves.map((n) => n.grad!.toArray());
  g.forward(opts.feeds ?? {}, { outputs: [output] });
  if (!output.requiresGrad) throw new Error(`jacobian: ${output.describe()} does not depend on ${wrt.describe()}`);
  const m = output.size;
  const n = wrt.size;
  const J = makeTensor([m, n]);
  const seed = new Float32Array(m);
  const row = new Float32Array(n);
  const isLeaf = wrt.kind === "param" || wrt.kind === "input";
  try {
    for (let i = 0; i < m; i++) {
      if (isLeaf) wrt.grad!.fill(0);
      seed.fill(0);
      seed[i] = 1;
      g.backward(output, seed);
      // An op node outside the path from output gets no gradient this pass: it stays zero.
      wrt.grad!.readInto(row);
      J.data.set(row, i * n);
    }
  } finally {
    leaves.forEach((node, i) => node.grad!.set(saved[i]!));
  }
  return J;
}

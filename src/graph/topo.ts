/**
 * Topological sort (the notes' "sort the variables so that each variable only depends on
 * variables to its left"): depth-first from the outputs, iterative so deep graphs cannot
 * overflow the call stack. Returns every node the outputs depend on, each after its inputs.
 */
export interface HasInputs<N> {
  readonly id: number;
  readonly inputs: readonly N[];
}

export function topoSort<N extends HasInputs<N>>(outputs: readonly N[]): N[] {
  const order: N[] = [];
  const state = new Map<number, 1 | 2>(); // 1 = on the stack, 2 = emitted
  const stack: { node: N; next: number }[] = [];
  for (const out of outputs) {
    if (state.get(out.id) === 2) continue;
    stack.push({ node: out, next: 0 });
    state.set(out.id, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.node.inputs.length) {
        const child = top.node.inputs[top.next++]!;
        const s = state.get(child.id);
        if (s === undefined) {
          state.set(child.id, 1);
          stack.push({ node: child, next: 0 });
        } else if (s === 1) {
          // Graphs are built from existing nodes only, so this cannot happen; say so if it does.
          throw new Error(`graph: cycle through node ${child.id}`);
        }
      } else {
        stack.pop();
        state.set(top.node.id, 2);
        order.push(top.node);
      }
    }
  }
  return order;
}

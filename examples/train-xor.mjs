// Learn XOR with a 2→8→1 network: tanh hidden layer, sigmoid output, SGD with momentum.
import { init } from "simdgrad";

const sg = await init();
const g = sg.graph();
const x = g.input([4, 2], "x");
const y = g.input([4, 1], "y");
const W1 = g.param([2, 8], { init: "xavier", seed: 1 }), b1 = g.param([8]);
const W2 = g.param([8, 1], { init: "xavier", seed: 2 }), b2 = g.param([1]);
const logits = g.linear(g.linear(x, W1, b1, "tanh"), W2, b2);
const loss = g.sigmoidCrossEntropy(logits, y);
const prob = g.sigmoid(logits);
const opt = sg.sgd(g.params, { lr: 0.5, momentum: 0.9 });

const feeds = { x: [0, 0, 0, 1, 1, 0, 1, 1], y: [0, 1, 1, 0] };
for (let step = 0; step <= 300; step++) {
  opt.zeroGrad();
  g.forward(feeds);
  g.backward(loss);
  opt.step();
  if (step % 50 === 0) console.log(`step ${step}  loss ${loss.value.toArray()[0].toFixed(4)}`);
}
g.forward(feeds);
console.log("predictions", Array.from(prob.value.toArray(), (p) => p.toFixed(3)).join(" "));
console.log("features", JSON.stringify(sg.features));
await sg.close();

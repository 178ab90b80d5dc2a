/**
 * A graph's gradient health: statistics and the anomaly hook (the work is in ./stats.ts),
 * wired to the graph's nodes, memory and after-backward hook; created on first use.
 */
import { typeName } from "../runtime/tensor.js";
import type { GraphCore } from "./core.js";
import type { Node } from "./node.js";
import { type AnomalyCallback, type AnomalyOptions, type GraphStats, StatsTracker } from "./stats.js";
import { topoSort } from "./topo.js";

/** @internal the gradient-health side of one graph. */
export class Health {
  private tracker: StatsTracker | null = null;

  constructor(private readonly core: GraphCore) {}

  private get(): StatsTracker {
    if (this.tracker === null) {
      const core = this.core;
      this.tracker = new StatsTracker({
        rt: core.rt,
        params: core.paramList,
        nodes: core.nodes,
        ranForward: () => core.ranForward,
        allocBlock: (floats) => core.leafTensor([floats], "gradient statistics"),
        releaseBlock: (t) => {
          const i = core.leafTensors.indexOf(t);
          if (i >= 0) core.leafTensors.splice(i, 1);
          if (!t.disposed) core.rt.arena.release(t.ptr);
          t._kill();
        },
        // A folded view holds no value or gradient of its own during runs: its input does.
        order: (output: Node) => topoSort([output]).filter((n) => !n._folded),
        setHook: (hook) => {
          core.afterBackward = hook;
        },
      });
      this.tracker.attach(core.owner);
    }
    return this.tracker;
  }

  trackStats(on: boolean): void {
    if (typeof on !== "boolean") throw new TypeError(`trackStats: expected true or false, got ${typeName(on)}`);
    if (on || this.tracker !== null) this.get().setTracking(on);
  }

  get on(): boolean {
    return this.tracker?.on === true;
  }

  stats(): GraphStats {
    if (this.tracker === null || !this.tracker.on) {
      throw new Error("stats: gradient statistics are not being collected; call g.trackStats(true) before training");
    }
    return this.tracker.stats();
  }

  gradNorms(out?: Float64Array): Float64Array {
    if (this.tracker === null || !this.tracker.on) {
      throw new Error("gradNorms: gradient statistics are not being collected; call g.trackStats(true) before training");
    }
    const n = this.core.paramList.length;
    if (out === undefined) out = new Float64Array(n);
    else if (!(out instanceof Float64Array) || out.length < n) {
      throw new TypeError(`gradNorms: out must be a Float64Array of at least ${n} values (one per param), got ${typeName(out)}`);
    }
    return this.tracker.gradNorms(out);
  }

  onAnomaly(cb: AnomalyCallback, opts: AnomalyOptions): () => void {
    if (typeof cb !== "function") throw new TypeError(`onAnomaly: expected a callback function, got ${typeName(cb)}`);
    if (opts === null || typeof opts !== "object") throw new TypeError(`onAnomaly: options must be { growthFactor? }, got ${typeName(opts)}`);
    const f = opts.growthFactor ?? Infinity;
    if (typeof f !== "number" || Number.isNaN(f) || f <= 1) {
      throw new RangeError(`onAnomaly: growthFactor must be a number > 1, got ${String(f)}`);
    }
    return this.get().addListener(cb, f);
  }
}

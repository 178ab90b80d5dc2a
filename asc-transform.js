// AssemblyScript compiler transform (asconfig.json "transform") that keeps the kernels
// module small and its loops free of constant building, without changing what it computes:
//
// 1. In the kernel files listed in NO_INLINE, only functions marked @inline are inlined.
//    Binaryen would otherwise also inline, at -O3, any small function called from several
//    places (a copy per caller), undoing the out-of-line vector math and the shared loops
//    those files rely on (see assembly/vmath.ts).
//
// 2. A v128 constant whose four 32-bit lanes are equal is written as a scalar constant and
//    a splat: `f32.const c; f32x4.splat` (or `i32.const`/`i32x4.splat` when that is
//    shorter or the bits are a NaN), 4–8 bytes instead of the 18 of `v128.const`. The bits
//    are the same; so was the speed in Node 20 (its V8 builds either form in a register once
//    per call when the loop using it is bottom-tested; the constants left inside loops now
//    are only zero and all-ones, item 3). The
//    polynomial coefficients and masks of the vector math are a quarter of the code, so
//    this takes about 15% off each release module. Binaryen folds such splats back into
//    v128.const while optimizing, so this runs on the optimized module, each time the
//    compiler writes the binary.
//
// 3. Before that: the vector constants used inside loops (the coefficients, clamps and
//    masks of the inlined vector math) are loaded from memory into locals just before the
//    innermost loop that uses them (constantTable). Engines other than Node 20's V8
//    11.3 build a v128 constant again at each use inside a loop, several instructions each
//    (Chromium and Deno's newer V8, and JavaScriptCore); a value loaded from memory before
//    the loop stays in a register or a stack slot instead, and binaryen cannot fold a load
//    back into a constant. The table of constants lives in the bottom RESERVED_BYTES of
//    memory, which the arena never hands out, and is written by the module's start function
//    at instantiation (the same bytes by every instance over a shared memory).
//    Measured with bench/engines-ab.mjs (paired, 65536 values, SIMD128 and relaxed builds):
//    sigmoid, tanh, swish, both GeLUs and their backwards 1.06–1.40× in Deno and Chromium,
//    0.91–1.47× in Bun (about 1.2× typical; its sigmoid forward 0.95×: JavaScriptCore keeps
//    all 13 of sigmoid's constants in registers and spills the work instead); exp and log
//    1.34–1.99× in every engine (Node 20 included: their loops are top-tested); softmax
//    1.09–1.39× outside Node; Node 20 otherwise unchanged (0.98–1.05×), the GEMM and the
//    convolutions too (their loops use no constants but zero). Loads placed at the function's entry
//    instead of each loop's made Bun's softmax 0.86× (longer live ranges across its row loop).
//
// 4. The few functions in SOURCE_ORDER (below) keep their operations in the order the source
//    writes them, which the optimizer would undo: their bodies as compiled are put back into
//    the optimized module, with light passes that move no code (see sourceOrder).
//
// 5. The functions matched by SPECIALIZE get their inlined constants propagated before the
//    optimizer runs, so that a kernel written as `if (flag) loop(true) else loop(false)`
//    keeps its two loops (see specialize).

const NO_INLINE = ["assembly/vmath/*", "assembly/activations/*", "assembly/losses/*", "assembly/linear/*", "assembly/strided/*"];

export default class KernelSize {
  afterCompile(module) {
    const binaryen = this.binaryen;
    for (const pattern of NO_INLINE) {
      binaryen.setPassArgument("no-inline", pattern);
      module.runPasses(["no-inline"]);
    }
    binaryen.clearPassArguments();
    specialize(binaryen, module, this.program.options.optimizeLevelHint >= 3);
    const ordered = sourceOrder(binaryen, module, this.program.options.optimizeLevelHint >= 2);
    const table = constantTable(binaryen, module);
    const emitBinary = module.emitBinary.bind(module);
    let first = true;
    module.emitBinary = (...args) => {
      // --converge optimizes and writes the binary several times: each time, the functions
      // kept in source order are put back as compiled, and their constants (everyone's, the
      // first time) hoisted.
      const restored = ordered.restore();
      table.hoist(first ? null : restored);
      first = false;
      splatConstants(binaryen, module);
      return emitBinary(...args);
    };
  }
}

/** Byte length of x as a signed LEB128 (what an i32.const immediate takes). */
function sleb128Length(x) {
  let n = 1;
  while (x < -64 || x > 63) {
    x >>= 7;
    n++;
  }
  return n;
}

/**
 * Calls `onConst(e, loop)` for each v128 constant in a function body and puts what it
 * returns in the constant's place; `loop` is the innermost loop around the constant (null
 * outside loops): an object made by `onLoop()` when the walk enters that loop, whose `wrap`
 * (if set) is then given the rewritten loop and returns what replaces it. Children are
 * visited for the expression kinds kernels use; a constant under any other kind is left as
 * it is (correct, only not rewritten).
 */
function mapConstants(b, body, onConst, onLoop = () => ({}), onGlobal = null) {
  const visit = (e, loop) => {
    const child = (get, set) => {
      const c = get(e);
      if (c) {
        const r = visit(c, loop);
        if (r !== c) set(e, r);
      }
    };
    const children = (count, get, set) => {
      for (let i = 0, n = count(e); i < n; i++) {
        const c = get(e, i);
        const r = visit(c, loop);
        if (r !== c) set(e, i, r);
      }
    };
    switch (b.getExpressionId(e)) {
      case b.ConstId: return b.getExpressionType(e) === b.v128 ? onConst(e, loop) : e;
      case b.GlobalGetId: return onGlobal ? onGlobal(e) : e;
      case b.BlockId: children(b.Block.getNumChildren, b.Block.getChildAt, b.Block.setChildAt); break;
      case b.IfId: child(b.If.getCondition, b.If.setCondition); child(b.If.getIfTrue, b.If.setIfTrue); child(b.If.getIfFalse, b.If.setIfFalse); break;
      case b.LoopId: {
        const inner = onLoop();
        const c = b.Loop.getBody(e);
        const r = visit(c, inner);
        if (r !== c) b.Loop.setBody(e, r);
        return inner.wrap ? inner.wrap(e) : e;
      }
      case b.BreakId: child(b.Break.getCondition, b.Break.setCondition); child(b.Break.getValue, b.Break.setValue); break;
      case b.SwitchId: child(b.Switch.getCondition, b.Switch.setCondition); child(b.Switch.getValue, b.Switch.setValue); break;
      case b.CallId: children(b.Call.getNumOperands, b.Call.getOperandAt, b.Call.setOperandAt); break;
      case b.LocalSetId: child(b.LocalSet.getValue, b.LocalSet.setValue); break;
      case b.LoadId: child(b.Load.getPtr, b.Load.setPtr); break;
      case b.StoreId: child(b.Store.getPtr, b.Store.setPtr); child(b.Store.getValue, b.Store.setValue); break;
      case b.UnaryId: child(b.Unary.getValue, b.Unary.setValue); break;
      case b.BinaryId: child(b.Binary.getLeft, b.Binary.setLeft); child(b.Binary.getRight, b.Binary.setRight); break;
      case b.SelectId: child(b.Select.getIfTrue, b.Select.setIfTrue); child(b.Select.getIfFalse, b.Select.setIfFalse); child(b.Select.getCondition, b.Select.setCondition); break;
      case b.DropId: child(b.Drop.getValue, b.Drop.setValue); break;
      case b.ReturnId: child(b.Return.getValue, b.Return.setValue); break;
      case b.SIMDExtractId: child(b.SIMDExtract.getVec, b.SIMDExtract.setVec); break;
      case b.SIMDReplaceId: child(b.SIMDReplace.getVec, b.SIMDReplace.setVec); child(b.SIMDReplace.getValue, b.SIMDReplace.setValue); break;
      case b.SIMDShuffleId: child(b.SIMDShuffle.getLeft, b.SIMDShuffle.setLeft); child(b.SIMDShuffle.getRight, b.SIMDShuffle.setRight); break;
      case b.SIMDTernaryId: child(b.SIMDTernary.getA, b.SIMDTernary.setA); child(b.SIMDTernary.getB, b.SIMDTernary.setB); child(b.SIMDTernary.getC, b.SIMDTernary.setC); break;
      case b.SIMDShiftId: child(b.SIMDShift.getVec, b.SIMDShift.setVec); child(b.SIMDShift.getShift, b.SIMDShift.setShift); break;
      case b.SIMDLoadId: child(b.SIMDLoad.getPtr, b.SIMDLoad.setPtr); break;
      case b.SIMDLoadStoreLaneId: child(b.SIMDLoadStoreLane.getPtr, b.SIMDLoadStoreLane.setPtr); child(b.SIMDLoadStoreLane.getVec, b.SIMDLoadStoreLane.setVec); break;
    }
    return e;
  };
  return visit(body, null);
}

/** Applies `rewrite(fn, body)` to each function body of the module (or of `only`, a list of functions), storing a changed body. */
function eachFunction(b, module, rewrite, only = null) {
  for (let i = 0, n = only ? only.length : module.getNumFunctions(); i < n; i++) {
    const fn = only ? only[i] : module.getFunctionByIndex(i);
    const body = b.Function.getBody(fn);
    if (!body) continue;
    const r = rewrite(fn, body);
    if (r !== body) b.Function.setBody(fn, r);
  }
}

/** The 16 bytes of a v128 constant as four 32-bit lanes. */
function lanes(b, e) {
  const bytes = b.Const.getValueV128(e);
  const lane = (k) => bytes[4 * k] | (bytes[4 * k + 1] << 8) | (bytes[4 * k + 2] << 16) | (bytes[4 * k + 3] << 24);
  return [lane(0), lane(1), lane(2), lane(3)];
}

/** Rewrites every v128.const with four equal lanes in the module's functions as a splat. */
function splatConstants(b, module) {
  const f32 = new Float32Array(1);
  const i32 = new Int32Array(f32.buffer);
  const splat = (e) => {
    const [bits, l1, l2, l3] = lanes(b, e);
    if (l1 !== bits || l2 !== bits || l3 !== bits) return e;
    i32[0] = bits;
    if (Number.isNaN(f32[0]) || sleb128Length(bits) < 4) return module.i32x4.splat(module.i32.const(bits));
    return module.f32x4.splat(module.f32.const(f32[0]));
  };
  eachFunction(b, module, (fn, body) => mapConstants(b, body, splat));
}

/** Where the table of hoisted constants starts: above address 0, below RESERVED_BYTES. */
const TABLE_BASE = 1024;
/** src/runtime/static-layout.ts RESERVED_BYTES: the arena never hands out memory below it. */
const RESERVED_BYTES = 65536;
/** src/runtime/static-layout.ts ZERO_BLOCK_AT: the zero block the table must stay below. */
const ZERO_BLOCK_AT = RESERVED_BYTES - 1024;

/**
 * Moves the vector constants used inside loops out of them: each distinct one is stored
 * once in a table in the reserved bottom of memory (by a start function that runs when
 * the module is instantiated), loaded into a local just before the innermost loop that
 * uses it, and read from that local in the loop. Zero and all-ones stay constants (engines
 * build them with one instruction). `hoist(only)` does so in every function (only = null)
 * or in the listed ones, adding constants it has not seen to the table and writing the start
 * function again when the table grew; the table is kept across calls, so a constant keeps
 * its slot.
 */
function constantTable(b, module) {
  const slots = new Map(); // the four lanes as a key → table offset
  const table = [];
  const hoistable = (e) => {
    const [l0, l1, l2, l3] = lanes(b, e);
    return (l0 | l1 | l2 | l3) !== 0 && (l0 & l1 & l2 & l3) !== -1;
  };
  let start; // the module's own start function (before the table's), once known
  let written = 0; // constants in the table's start function as last written
  const hoist = (only) => {
    eachFunction(b, module, (fn, body) => {
      const locals = new Map(); // key → this function's local holding that constant
      const onLoop = () => {
        const loop = { loads: new Map() }; // key → its load, once per loop
        loop.wrap = (e) => loop.loads.size === 0 ? e : module.block(null, [...loop.loads.values(), e], b.getExpressionType(e));
        return loop;
      };
      return mapConstants(b, body, (e, loop) => {
        if (!loop || !hoistable(e)) return e;
        const k = lanes(b, e).join(",");
        let slot = slots.get(k);
        if (slot === undefined) {
          slot = TABLE_BASE + 16 * table.length;
          slots.set(k, slot);
          table.push(b.Const.getValueV128(e));
        }
        let local = locals.get(k);
        if (local === undefined) {
          local = b._BinaryenFunctionAddVar(fn, b.v128);
          locals.set(k, local);
        }
        if (!loop.loads.has(k)) loop.loads.set(k, module.local.set(local, module.v128.load(slot, 16, module.i32.const(0))));
        return module.local.get(local, b.v128);
      }, onLoop);
    }, only);
    if (table.length === written) return;
    written = table.length;
    const end = TABLE_BASE + 16 * table.length;
    if (end > ZERO_BLOCK_AT) throw new Error(`asc-transform: ${table.length} hoisted constants reach the zero block at ${ZERO_BLOCK_AT}`);
    if (module.getNumDataSegments() > 0) throw new Error("asc-transform: the module has data segments; place the constant table clear of them");
    if (start === undefined) {
      const old = module.getStart();
      start = old ? b.Function.getName(old) : null;
    }
    const stores = table.map((bytes, i) => module.v128.store(TABLE_BASE + 16 * i, 16, module.i32.const(0), module.v128.const(bytes)));
    if (start) stores.unshift(module.call(start, [], b.none));
    if (module.getFunction("~vconst_table")) module.removeFunction("~vconst_table");
    module.setStart(module.addFunction("~vconst_table", b.none, b.none, [], module.block(null, stores, b.none)));
  };
  return { hoist };
}

/**
 * Kernels that pick a loop by a run-time flag or code, `if (accumulate) map2(op, true, …)
 * else map2(op, false, …)` with map2 @inline: the compiler inlines each call with its flag
 * as a local set to a constant, and at -O3 the optimizer's first code folding (which runs
 * before any constant propagation) finds the two arms equal but for that constant and folds
 * them into one loop that reads the local: V8 then tests the flag (and moves registers for
 * both cases) at every vector, and binary_nd's loops also tested its op and operand layout
 * per vector. Propagating the constants first, in these files' functions only, keeps a loop
 * per value. Measured with bench/engines-ab.mjs (paired, 65536 values, 11 pairs; Node 20,
 * Node 24, Deno, Bun, Chromium; with assembly/strided.ts's layouts and ops as they are now):
 * binary_nd 1.3–2.4× (add over a column 1.7–2.4×), sgd_step 1.15–1.31× (with momentum
 * 1.03–1.20×), add_rows 1.06–1.82×, mul_scalar 1.0–2.0×, add_same and mul_same 1.02–1.27×,
 * copy_nd accumulating rows 1.04–1.35×; the relaxed build alike. Not better: copy_nd's
 * transposes 0.96–0.98× in Node 24, Bun and Chromium (1.07× in Node 20); running them in one
 * loop for both flag values evened those but cost Node 20 0.85–0.89× on the accumulating rows.
 * Code: +12 KB raw, +1.3 KB gzip per .wasm. The other kernel files write out a loop per
 * flag value where the loop is light (activations.ts's cheap_backward_loop: not folded, it
 * has no inlined constant to tell the arms apart), and test the flag at the store in heavy
 * loops (the smooth activations' backwards), where it costs little. Propagating first in
 * pool.ts, reduce.ts, unary.ts and conv.ts changes none of their loops. In every function:
 * each .wasm 6 KB smaller and the GEMM level, but the activations 0.84–1.09× across the
 * engines (`bench/engines-ab.mjs`, 9 pairs): not taken.
 */
const SPECIALIZE = ["assembly/elementwise/", "assembly/optim/", "assembly/strided/"];

function specialize(b, module, optimizing) {
  if (!optimizing) return;
  for (let i = 0, n = module.getNumFunctions(); i < n; i++) {
    const fn = module.getFunctionByIndex(i);
    const name = b.getFunctionInfo(fn).name;
    if (SPECIALIZE.some((p) => name.startsWith(p))) module.runPassesOnFunction(fn, ["precompute-propagate"]);
  }
}

/**
 * Functions whose operations keep the order their source gives them. The optimizer folds a
 * value used once back into the one expression that uses it, so the two vectors' chains of
 * gelu_pair (assembly/vmath.ts), written interleaved one operation of each in turn, come out
 * one whole chain after the other wherever a step's value is used once; V8 since 12.x and
 * JavaScriptCore emit machine code in that order, and the core then waits out each chain's
 * latencies (its divisions, the polynomials) alone. These functions get back their body as
 * compiled (after @inline expansion: one local per source value), with the values of
 * constant globals put in, and only passes that move no code: constant folding,
 * instruction rewrites, dead code and block cleanup, local merging.
 * Measured with bench/engines-ab.mjs against the same functions fully optimized (paired,
 * 15 pairs of 65536 values, the same bits), Node 24, Deno, Bun and Chromium, SIMD128 /
 * relaxed: gelu_backward 1.11–1.13× / 1.10–1.12×, gelu_forward_slope 1.00–1.02× /
 * 1.05–1.29×; Node 20 and 22 level (their V8 schedules instructions itself). The plain
 * gelu_forward, which had run its two vectors one after the other because interleaved and
 * folded it read 0.94–0.97×, runs gelu_pair so kept: 1.11–1.14× / 1.08–1.15×. Not kept:
 * sigmoid_forward's pairs (1.09–1.10× in Node 24, Deno and Chromium but 0.76× in Bun), and
 * loops written as four vectors one after another (tanh, swish, the tanh GeLU: 0.63–0.97×),
 * for which the optimizer's order is the better one.
 */
const SOURCE_ORDER = ["gelu_forward", "gelu_forward_slope", "gelu_backward"];

/**
 * Saves SOURCE_ORDER's bodies as compiled (when `optimizing`; a debug build keeps every
 * function as the compiler wrote it); `restore()` puts fresh copies of them back in place of
 * the optimized ones and returns those functions.
 */
function sourceOrder(b, module, optimizing) {
  const saved = [];
  const onGlobal = (e) => {
    const g = b.getGlobalInfo(module.getGlobal(b.GlobalGet.getName(e)));
    return !g.mutable && b.getExpressionId(g.init) === b.ConstId ? module.copyExpression(g.init) : e;
  };
  for (const kernel of optimizing ? SOURCE_ORDER : []) {
    // A module without the kernel among its exports is a part of the library compiled alone
    // (bench/gemm-blocking.mjs's GEMM variants), whose optimizer may have inlined away what
    // the kept body calls: left as optimized. test/source-order.test.ts checks the builds.
    const exp = module.getExport(kernel);
    if (!exp) continue;
    const name = b.getExportInfo(exp).value;
    const fn = module.getFunction(name);
    if (!fn) throw new Error(`asc-transform: the export ${kernel} names ${name}, which the module does not have`);
    const info = b.getFunctionInfo(fn);
    const body = mapConstants(b, module.copyExpression(info.body), (e) => e, () => ({}), onGlobal);
    saved.push({ name, params: info.params, results: info.results, vars: info.vars, body });
  }
  const restore = () => saved.map((f) => {
    if (!module.getFunction(f.name)) throw new Error(`asc-transform: ${f.name} was optimized away`);
    module.removeFunction(f.name);
    const fn = module.addFunction(f.name, f.params, f.results, f.vars, module.copyExpression(f.body));
    module.runPassesOnFunction(fn, ["precompute-propagate", "optimize-instructions", "dce", "remove-unused-brs", "remove-unused-names", "merge-blocks", "vacuum", "coalesce-locals", "reorder-locals", "vacuum"]);
    if (!module.validate()) throw new Error(`asc-transform: ${f.name}, kept in source order, does not validate`);
    return fn;
  });
  return { restore };
}

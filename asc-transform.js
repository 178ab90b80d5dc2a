// AssemblyScript compiler transform (asconfig.json "transform") that keeps the kernels
// module small without changing what it computes:
//
// 1. In the kernel files listed in NO_INLINE, only functions marked @inline are inlined.
//    Binaryen would otherwise also inline, at -O3, any small function called from several
//    places (a copy per caller), undoing the out-of-line vector math and the shared loops
//    those files rely on (see assembly/vmath.ts).
//
// 2. A v128 constant whose four 32-bit lanes are equal is written as a scalar constant and
//    a splat: `f32.const c; f32x4.splat` (or `i32.const`/`i32x4.splat` when that is
//    shorter or the bits are a NaN), 4–8 bytes instead of the 18 of `v128.const`. The bits
//    are the same; so is the speed (V8 builds either form in a register once per call when
//    the loop using it is bottom-tested, and the kernels' benchmarks did not move). The
//    polynomial coefficients and masks of the vector math are a quarter of the code, so
//    this takes about 15% off each release module. Binaryen folds such splats back into
//    v128.const while optimizing, so this runs on the optimized module, each time the
//    compiler writes the binary.

const NO_INLINE = ["assembly/vmath/*", "assembly/activations/*", "assembly/losses/*", "assembly/linear/*"];

export default class KernelSize {
  afterCompile(module) {
    const binaryen = this.binaryen;
    for (const pattern of NO_INLINE) {
      binaryen.setPassArgument("no-inline", pattern);
      module.runPasses(["no-inline"]);
    }
    binaryen.clearPassArguments();
    const emitBinary = module.emitBinary.bind(module);
    module.emitBinary = (...args) => {
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

/** Rewrites every v128.const with four equal lanes in the module's functions as a splat. */
function splatConstants(b, module) {
  const f32 = new Float32Array(1);
  const i32 = new Int32Array(f32.buffer);
  const splat = (e) => {
    if (b.getExpressionType(e) !== b.v128) return e;
    const bytes = b.Const.getValueV128(e);
    const lane = (k) => bytes[4 * k] | (bytes[4 * k + 1] << 8) | (bytes[4 * k + 2] << 16) | (bytes[4 * k + 3] << 24);
    const bits = lane(0);
    if (lane(1) !== bits || lane(2) !== bits || lane(3) !== bits) return e;
    i32[0] = bits;
    if (Number.isNaN(f32[0]) || sleb128Length(bits) < 4) return module.i32x4.splat(module.i32.const(bits));
    return module.f32x4.splat(module.f32.const(f32[0]));
  };
  // Children are visited for the expression kinds kernels use; a constant under any other
  // kind is left as it is (correct, only not shortened).
  const visit = (e) => {
    const child = (get, set) => {
      const c = get(e);
      if (c) {
        const r = visit(c);
        if (r !== c) set(e, r);
      }
    };
    const children = (count, get, set) => {
      for (let i = 0, n = count(e); i < n; i++) {
        const c = get(e, i);
        const r = visit(c);
        if (r !== c) set(e, i, r);
      }
    };
    switch (b.getExpressionId(e)) {
      case b.ConstId: return splat(e);
      case b.BlockId: children(b.Block.getNumChildren, b.Block.getChildAt, b.Block.setChildAt); break;
      case b.IfId: child(b.If.getCondition, b.If.setCondition); child(b.If.getIfTrue, b.If.setIfTrue); child(b.If.getIfFalse, b.If.setIfFalse); break;
      case b.LoopId: child(b.Loop.getBody, b.Loop.setBody); break;
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
  for (let i = 0, n = module.getNumFunctions(); i < n; i++) {
    const fn = module.getFunctionByIndex(i);
    const body = b.Function.getBody(fn);
    if (!body) continue;
    const r = visit(body);
    if (r !== body) b.Function.setBody(fn, r);
  }
}

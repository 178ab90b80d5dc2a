// AssemblyScript compiler transform: in the kernel files listed below, only functions
// marked @inline are inlined. Binaryen would otherwise also inline, at -O3, any small
// function called from several places (a copy per caller), undoing the out-of-line
// vector math and the shared loops those files rely on to keep the module small.
const FILES = ["assembly/vmath/*", "assembly/activations/*", "assembly/losses/*", "assembly/linear/*"];

export default class NoInline {
  afterCompile(module) {
    for (const pattern of FILES) {
      this.binaryen.setPassArgument("no-inline", pattern);
      module.runPasses(["no-inline"]);
    }
    this.binaryen.clearPassArguments();
  }
}

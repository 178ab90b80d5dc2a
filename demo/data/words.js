/**
 * Word ids for the window classifier drawn as in the notes: a vocabulary from the corpus,
 * and each window as the ids of its five words (looked up in a learned embedding table).
 *
 * The vocabulary holds every word form seen at least `minCount` times in the training
 * windows (case kept: "Paris" and "paris" are different words), the sentence pads, and
 * one unknown word per word shape ("<unk:Xx>", "<unk:d>", …): a word outside the vocabulary,
 * such as a held-out place name, becomes the unknown word of its shape. No test or
 * validation place name can enter the vocabulary: they never occur in training windows.
 */
import { PAD_LEFT, PAD_RIGHT, wordShape } from "./locations.js";

export const UNK_PREFIX = "<unk:";

/** The unknown word standing for `word` (by its shape). */
export function unknownOf(word) {
  return `${UNK_PREFIX}${wordShape(word)}>`;
}

/**
 * Builds the vocabulary: { words: string[], index: Map<string, id>, idOf(word), maskedId(word) }.
 * @param data  buildLocationData's result
 */
export function buildVocab(data, minCount = 2) {
  const { corpus, radius } = data;
  const counts = new Map();
  const shapes = new Set();
  const bump = (w) => counts.set(w, (counts.get(w) ?? 0) + 1);
  for (const c of data.train) {
    for (let k = Math.max(corpus.sentStart[c], c - radius); k < Math.min(corpus.sentEnd[c], c + radius + 1); k++) bump(corpus.words[k]);
  }
  // Every shape of the corpus gets its unknown word (so every word has an id).
  for (const w of corpus.words) shapes.add(unknownOf(w));
  const words = [PAD_LEFT, PAD_RIGHT, ...[...shapes].sort()];
  for (const [w, n] of [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) if (n >= minCount) words.push(w);
  const index = new Map(words.map((w, i) => [w, i]));
  return {
    words,
    index,
    /** Times each word occurs in the training windows (0 for the pads and unknown words). */
    counts: Int32Array.from(words, (w) => counts.get(w) ?? 0),
    /** The word's id, or its shape's unknown word's. */
    idOf(word) {
      return index.get(word) ?? index.get(unknownOf(word));
    },
    /** The id of the unknown word of the word's shape (word dropout: hide which word it is). */
    maskedId(word) {
      return index.get(unknownOf(word));
    },
  };
}

/**
 * Writes the word ids of the windows centred on centres[from … from + count) into ids
 * (count × (2·radius + 1)) and their labels into y. With probability dropCentre (training
 * only), the centre word is replaced by the unknown word of its shape, as the hashed model's
 * word dropout does, so that the model learns to read the context.
 */
export function fillWindowIds(data, vocab, centres, from, count, ids, y, dropCentre = 0, rng = Math.random) {
  const { corpus, radius, label } = data;
  const width = 2 * radius + 1;
  for (let r = 0; r < count; r++) {
    const c = centres[from + r];
    const s = corpus.sentStart[c];
    const e = corpus.sentEnd[c];
    for (let k = -radius; k <= radius; k++) {
      const p = c + k;
      const word = p < s ? PAD_LEFT : p >= e ? PAD_RIGHT : corpus.words[p];
      ids[r * width + k + radius] = k === 0 && dropCentre > 0 && rng() < dropCentre ? vocab.maskedId(word) : vocab.idOf(word);
    }
    if (y) y[r] = label[c];
  }
}

/**
 * The `k` words whose vectors (rows of table [V, D]) have the largest cosine with `word`'s,
 * among words seen at least `minCount` times in training (rarer words keep vectors close to
 * their random start).
 */
export function nearestWords(vocab, table, D, word, k = 5, minCount = 10) {
  const id = vocab.index.get(word);
  if (id === undefined) return null;
  const V = vocab.words.length;
  const norm = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += table[v * D + j] ** 2;
    norm[v] = Math.sqrt(s) || 1;
  }
  const sims = [];
  for (let v = 0; v < V; v++) {
    if (v === id || vocab.counts[v] < minCount) continue;
    let s = 0;
    for (let j = 0; j < D; j++) s += table[id * D + j] * table[v * D + j];
    sims.push([s / (norm[id] * norm[v]), v]);
  }
  sims.sort((a, b) => b[0] - a[0]);
  return sims.slice(0, k).map(([sim, v]) => ({ word: vocab.words[v], cosine: sim }));
}

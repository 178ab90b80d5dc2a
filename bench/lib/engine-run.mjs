// Child process of bench/engines.mjs for Node, Deno and Bun: runs measureEngine on the two
// .wasm files named on the command line and prints its result as one line of JSON.
//
//   <runtime> bench/lib/engine-run.mjs <peak.<build>.wasm> <simdgrad.<build>.wasm> <rounds> <build>
import fs from "node:fs";
import { measureEngine } from "./engine-gemm.js";

const [peakFile, sgFile, rounds, build] = process.argv.slice(2);
const result = await measureEngine({ peak: [...fs.readFileSync(peakFile)], sg: [...fs.readFileSync(sgFile)], rounds: Number(rounds), build });
console.log(JSON.stringify(result));

// Child process of bench/engines-step.mjs for Node, Deno and Bun: runs measureStep on the
// input JSON file named on the command line and prints its result as one line of JSON.
//
//   <runtime> bench/lib/engine-step-run.mjs <input.json>
import fs from "node:fs";
import { measureStep } from "./engine-step.js";

console.log(JSON.stringify(await measureStep(JSON.parse(fs.readFileSync(process.argv[2], "utf8")))));

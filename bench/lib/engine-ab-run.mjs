// Child process of bench/engines-ab.mjs for Node, Deno and Bun: runs abKernels on the
// input JSON file named on the command line and prints its result as one line of JSON.
//
//   <runtime> bench/lib/engine-ab-run.mjs <input.json>
import fs from "node:fs";
import { abKernels } from "./engine-ab.js";

console.log(JSON.stringify(await abKernels(JSON.parse(fs.readFileSync(process.argv[2], "utf8")))));

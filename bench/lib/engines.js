// The engines the cross-engine benchmarks run in, one definition for bench/engines.mjs,
// bench/engines-ab.mjs and bench/engines-step.mjs: Node (this process's binary, or another
// major version from the npm registry: "node24" runs `npx -y node@24`'s binary), Deno and Bun
// (the devDependencies' binaries), each as a child process running a runner script that
// prints one line of JSON, and headless Chromium (/usr/bin/chromium or $CHROMIUM, through
// playwright-core), which evaluates the benchmark function's source in a page, and headless
// Firefox (SpiderMonkey: /usr/bin/firefox-esr or $FIREFOX, Debian's firefox-esr package),
// which opens a page of scripts/firefox-page.mjs that runs the same source and posts back its
// result. A missing engine is reported, not fatal.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { relaxedFlagsOf } from "../../scripts/relaxed-simd.mjs";
import { firefoxBinary, inFirefox } from "../../scripts/firefox-page.mjs";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

/** The binary of Node major version `major` from the npm registry's `node` package, or null. */
function nodeBinary(major) {
  const r = spawnSync("npx", ["-y", `node@${major}`, "-p", "process.execPath"], { encoding: "utf8" });
  const p = (r.stdout ?? "").trim().split("\n").pop();
  return r.status === 0 && p && fs.existsSync(p) ? p : null;
}

/** A child-process engine: its command, the arguments before the script, and its version. */
function childEngine(name, relaxed) {
  let cmd, pre = [];
  if (name === "node") cmd = process.execPath;
  else if (/^node\d+$/.test(name)) cmd = nodeBinary(name.slice(4));
  else if (name === "deno") [cmd, pre] = [bin("deno"), ["run", "-A"]];
  else if (name === "bun") cmd = bin("bun");
  else throw new Error(`engines: node, node<major> (e.g. node24), deno, bun, chromium or firefox, not ${name}`);
  if (!cmd || !fs.existsSync(cmd)) return { error: `not found: ${cmd ?? `node@${name.slice(4)} from npm`}` };
  const v = spawnSync(cmd, name === "deno" || name === "bun" ? ["--version"] : ["-p", "`node ${process.version}, V8 ${process.versions.v8}`"], { encoding: "utf8" });
  let version = (v.stdout ?? "").split("\n").filter(Boolean).join(", ");
  if (name === "deno") version = `deno ${version.match(/deno ([\d.]+)/)?.[1]}, V8 ${version.match(/v8 ([\w.-]+)/)?.[1]}`;
  if (name === "bun") version = `bun ${version} (JavaScriptCore)`;
  // Node 20 needs V8's flag for the relaxed build; Node 22+, Deno, Bun and Chromium have it on.
  if (relaxed && name.startsWith("node")) pre = relaxedFlagsOf(cmd);
  return { cmd, pre, version };
}

/**
 * Runs a benchmark in each engine of `wanted`, one after another.
 * `runner`: a script that takes `runnerArgs` and prints its result as the last line of stdout,
 * JSON; `fn` and `input`: the same benchmark as a self-contained function and its argument,
 * for Chromium; `relaxed`: the relaxed-SIMD build is timed (Node 20 needs a flag);
 * `serve`: for a benchmark whose page loads files, { start() → a server with url and
 * close(), path: the page to open on its origin, input(origin) → fn's argument there }
 * (see engines-step); without it fn runs in a blank page.
 * @returns {Promise<{ name: string, version?: string, result?: any, error?: string }[]>}
 */
export async function runEngines(wanted, { runner, runnerArgs, fn, input, relaxed = false, serve = null }) {
  const runs = [];
  for (const name of wanted) {
    let run;
    if (name === "chromium") run = await inChromium(fn, input, serve);
    else if (name === "firefox") run = await firefox(fn, input, serve);
    else {
      const e = childEngine(name, relaxed);
      if (e.error) run = e;
      else {
        const r = spawnSync(e.cmd, [...e.pre, runner, ...runnerArgs], { encoding: "utf8", maxBuffer: 1 << 24 });
        const line = (r.stdout ?? "").trim().split("\n").pop();
        run = r.status !== 0 || !/^[[{]/.test(line ?? "")
          ? { version: e.version, error: `exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" / ")}` }
          : { version: e.version, result: JSON.parse(line) };
      }
    }
    runs.push({ name, ...run });
    console.error(`${name}: ${run.error ?? "done"}`);
  }
  return runs;
}

/** fn(input) evaluated in a headless Chromium page (its source text, so it must be self-contained). */
async function inChromium(fn, input, serve) {
  const exe = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!fs.existsSync(exe)) return { error: `not found: ${exe}` };
  const { chromium } = await import("playwright-core");
  const server = serve ? await serve.start() : null;
  const browser = await chromium.launch({ executablePath: exe, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage();
    let arg = input;
    if (server) {
      const origin = new URL(server.url).origin;
      await page.goto(`${origin}${serve.path}`);
      arg = serve.input(origin);
    }
    return { version: `Chromium ${browser.version()}`, result: await page.evaluate(`(${fn.toString()})(${JSON.stringify(arg)})`) };
  } catch (e) {
    return { error: e.message.split("\n")[0] };
  } finally {
    await browser.close();
    if (server) await server.close();
  }
}

/** fn(input) evaluated in a headless Firefox page (see scripts/firefox-page.mjs), with serve as inChromium's. */
async function firefox(fn, input, serve) {
  const exe = firefoxBinary();
  if (!exe) return { error: "not found: firefox-esr (Debian's firefox-esr package), or set FIREFOX" };
  const app = serve ? await serve.start() : null;
  try {
    const { version, result } = await inFirefox(exe, fn, app ? (origin) => serve.input(origin) : () => input, app?.url ?? null);
    return { version, result };
  } catch (e) {
    return { error: e.message.split("\n")[0] };
  } finally {
    if (app) await app.close();
  }
}

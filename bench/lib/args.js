// Command-line options of the bench scripts: `--name=value` gives { name: "value" }, a bare
// `--flag` gives { flag: "1" }.

/** The options in `argv` (the process's own arguments by default). */
export function parseArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(
    argv.map((a) => {
      const [k, v] = a.replace(/^--/, "").split("=");
      return [k, v ?? "1"];
    }),
  );
}

// Plain-text tables: a title, a header row, right-aligned numbers, a rule under the header.

export function fmt(x, digits = 1) {
  if (x === null || x === undefined) return "—";
  if (typeof x === "string") return x;
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && a < 0.01) return x.toExponential(1);
  if (a >= 1000) return x.toFixed(0);
  return x.toFixed(a < 1 ? Math.max(digits, 2) : digits);
}

export function ratio(a, b) {
  if (typeof a !== "number" || typeof b !== "number" || !(b > 0)) return "—";
  return `${a / b >= 100 ? (a / b).toFixed(0) : (a / b).toFixed(2)}×`;
}

/** Percent change of `now` against `prev` (numbers where larger is better unless `lowerIsBetter`). */
export function change(now, prev) {
  if (typeof now !== "number" || typeof prev !== "number" || !(prev > 0)) return "";
  const d = (now / prev - 1) * 100;
  const s = `${d >= 0 ? "+" : ""}${d.toFixed(0)}%`;
  return s === "+0%" || s === "-0%" ? "±0%" : s;
}

/**
 * Prints a table. `columns`: [{ title, align? ("l" | "r") }]; `rows`: arrays of cells (strings).
 * Text cells longer than a column (the n/a reasons) may overflow it; `notes` follow the table.
 */
export function printTable(title, columns, rows, notes = []) {
  const width = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? "").length)));
  const cap = 72;
  const w = width.map((x) => Math.min(x, cap));
  const line = (cells) =>
    cells
      .map((c, i) => {
        const s = c ?? "";
        return columns[i].align === "l" ? s.padEnd(w[i]) : s.padStart(w[i]);
      })
      .join("  ")
      .trimEnd();
  const out = [];
  out.push("");
  out.push(title);
  out.push(line(columns.map((c) => c.title)));
  out.push(w.map((x) => "-".repeat(x)).join("  "));
  for (const r of rows) out.push(line(r));
  for (const n of notes) out.push(`  ${n}`);
  console.log(out.join("\n"));
}

// The pages' "Save" buttons: hand bytes a trainer wrote to the browser as a file.

/** Offers `bytes` as a download named `name`; returns a line saying so for the page. */
export function offerDownload(name, bytes) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return `Downloaded ${name} (${bytes.byteLength.toLocaleString("en")} bytes).`;
}

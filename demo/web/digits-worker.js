// The digits page's trainer in a module worker (see digits-trainer.js for its messages).
import { startDigitsTrainer } from "./digits-trainer.js";

const queued = [];
let handle = null;
self.onmessage = (e) => (handle ? handle(e.data) : queued.push(e.data));
startDigitsTrainer((m, transfer) => self.postMessage(m, transfer ?? []))
  .then((h) => {
    handle = h;
    for (const m of queued.splice(0)) h(m);
  })
  .catch((e) => self.postMessage({ type: "error", request: "start", message: e instanceof Error ? e.message : String(e) }));

// The text page's trainer in a module worker (see text-trainer.js for its messages).
import { createTextTrainer } from "./text-trainer.js";

const handle = createTextTrainer((msg, transfer) => self.postMessage(msg, transfer ?? []));
self.onmessage = (e) => handle(e.data);

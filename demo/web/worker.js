/**
 * The module worker that trains: the page posts requests, the Trainer posts progress back.
 * Training here keeps the page responsive however hard the kernels work.
 */
import { Trainer } from "./trainer.js";

const trainer = new Trainer((msg, transfer) => self.postMessage(msg, transfer ?? []));
self.onmessage = (e) => {
  trainer.handle(e.data);
};

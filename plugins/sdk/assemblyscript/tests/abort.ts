// abort: a record whose "action" field is "abort" throws, which AssemblyScript compiles
// to a call of abort; the SDK's handler writes the message to stderr and traps. Every
// other record passes. Built by plugins/build.sh as as_abort.wasm to test that the
// message reaches the record's error.
import * as slspipe from "../assembly/index";
export * from "../assembly/exports";

const ACTION = slspipe.bytes("action");
const ABORT = slspipe.bytes("abort");

function process(batch: slspipe.Batch, out: slspipe.Output): string | null {
  for (let i: u32 = 0; i < batch.length; i++) {
    const a = batch.get(i, ACTION);
    if (a !== null && a.equals(ABORT)) throw new Error("asked to abort record " + batch.index(i).toString());
    out.pass(i, 0);
  }
  return null;
}

slspipe.onBatch(process);

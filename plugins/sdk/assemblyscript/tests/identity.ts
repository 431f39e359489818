// identity: every input record becomes one identical output record. Built by
// plugins/build.sh as as_identity.wasm to measure the SDK's per-record cost.
import * as slspipe from "../assembly/index";
export * from "../assembly/exports";

function process(batch: slspipe.Batch, out: slspipe.Output): string | null {
  for (let i: u32 = 0; i < batch.length; i++) {
    out.copy(batch, i);
    out.ok(i, 0);
  }
  return null;
}

slspipe.onBatch(process);

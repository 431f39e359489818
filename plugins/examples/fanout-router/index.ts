// fanout-router: fans each record out to one output per element of a comma-separated
// field, and picks each record's sink route from the value of another field.
//
// Config:
//   split     field holding the comma-separated list (default "targets"). Each output
//             is the record with that field set to one element (trimmed; empty elements
//             are skipped). A record without the field, or with no element, goes on
//             unchanged as a single output.
//   route_by  field whose value selects the route (default "level").
//   routes    comma-separated values; a record whose route_by value is the k-th of them
//             (from 1) is sent to sink route k, any other record to route 0, the
//             default. With routes "error,audit", level=error goes to route 1 and
//             level=audit to route 2. The pipeline names route k; `slspipe test` prints
//             it as "__route__" (its number, or the k-th name given with --routes).
import * as slspipe from "../../sdk/assemblyscript/assembly/index";
export * from "../../sdk/assemblyscript/assembly/exports";

let splitKey = slspipe.bytes("targets");
let routeKey = slspipe.bytes("level");
let routeValues = new Array<slspipe.Bytes>();

function init(cfg: slspipe.Config): string | null {
  const names = cfg.names();
  for (let i = 0; i < names.length; i++) {
    const k = names[i];
    const v = cfg.get(k)!;
    if (k == "split") {
      if (v.length == 0) return "fanout-router: config split must not be empty";
      splitKey = slspipe.bytes(v);
    } else if (k == "route_by") {
      if (v.length == 0) return "fanout-router: config route_by must not be empty";
      routeKey = slspipe.bytes(v);
    } else if (k == "routes") {
      const parts = v.split(",");
      for (let j = 0; j < parts.length; j++) routeValues.push(slspipe.bytes(parts[j].trim()));
    } else {
      return "fanout-router: unknown config key \"" + k + "\"; known: split, route_by, routes";
    }
  }
  return null;
}

function routeOf(batch: slspipe.Batch, i: u32): u32 {
  const v = batch.get(i, routeKey);
  if (v === null) return 0;
  for (let k = 0; k < routeValues.length; k++) {
    if (v.equals(routeValues[k])) return <u32>k + 1;
  }
  return 0;
}

function process(batch: slspipe.Batch, out: slspipe.Output): string | null {
  for (let i: u32 = 0; i < batch.length; i++) {
    const route = routeOf(batch, i);
    const at = batch.find(i, splitKey);
    if (at < 0) {
      out.pass(i, route);
      continue;
    }
    const list = batch.value(i, <u32>at);
    let emitted = 0;
    let start: u32 = 0;
    while (start <= list.length) {
      let end = list.indexOf(0x2c /* ',' */, start);
      if (end < 0) end = <i32>list.length;
      const elem = list.slice(start, <u32>end).trim();
      start = <u32>end + 1;
      if (elem.length == 0) continue;
      emitted++;
      out.copyWith(batch, i, <u32>at, elem);
    }
    // Every element empty: forward the record as it is rather than dropping it.
    if (emitted == 0) out.pass(i, route);
    else out.ok(i, route);
  }
  return null;
}

slspipe.onInit(init);
slspipe.onBatch(process);

// AssemblyScript SDK for slspipe guest ABI v1 (docs/abi.md).
//
// A module re-exports the ABI functions from its entry file and registers its handlers
// from top-level code, which runs once per instance when it starts:
//
//   import * as slspipe from "<path>/plugins/sdk/assemblyscript/assembly/index";
//   export * from "<path>/plugins/sdk/assemblyscript/assembly/exports";
//
//   function process(batch: slspipe.Batch, out: slspipe.Output): void {
//     for (let i: u32 = 0; i < batch.length; i++) { out.copy(batch, i); out.ok(i, 0); }
//   }
//   slspipe.onBatch(process);
//
// Build with the compiler this package pins, replacing AssemblyScript's default abort
// (an env.abort import, which the host also provides) by the SDK's, which writes the
// message to stderr — the host attaches it to the trap error — and traps:
//
//   asc index.ts -O3 --runtime incremental --use abort=<sdk>/assembly/index/abortHandler -o m.wasm
//
// Memory: the ABI tables and bytes the SDK hands to the host live in raw heap blocks the
// SDK reuses from batch to batch; strings and objects the module creates are managed by
// the incremental runtime's garbage collector.

// ---- host imports ----------------------------------------------------------------------

@external("slspipe", "log")
declare function hostLog(level: i32, ptr: usize, len: u32): void;

@external("slspipe", "counter_add")
declare function hostCounterAdd(ptr: usize, len: u32, delta: i64): void;

@external("slspipe", "clock_now")
declare function hostClockNow(): i64;

@external("wasi_snapshot_preview1", "fd_write")
declare function wasiFdWrite(fd: u32, iovs: usize, iovsLen: u32, written: usize): u16;

/** Log levels accepted by {@link log} (the host's slog levels). */
export const DEBUG: i32 = -4;
export const INFO: i32 = 0;
export const WARN: i32 = 4;
export const ERROR: i32 = 8;

/** Writes msg to the host log at level (DEBUG, INFO, WARN or ERROR). */
export function log(level: i32, msg: string): void {
  const b = String.UTF8.encode(msg);
  hostLog(level, changetype<usize>(b), <u32>b.byteLength);
}

/** Adds delta to the host counter called name (exported by the host as a metric). */
export function counterAdd(name: string, delta: i64): void {
  const b = String.UTF8.encode(name);
  hostCounterAdd(changetype<usize>(b), <u32>b.byteLength, delta);
}

/** Returns the host clock in Unix nanoseconds; pinned by the host in tests. */
export function clockNow(): i64 {
  return hostClockNow();
}

/**
 * Replaces AssemblyScript's abort (select it with --use abort=.../abortHandler): writes
 * "abort: message at file:line:column" to stderr, where the host picks it up for the trap
 * error, and traps. The host then isolates the record that caused it.
 */
export function abortHandler(message: string | null, file: string | null, line: u32, column: u32): void {
  let text = "abort: " + (message !== null ? message : "(no message)");
  if (file !== null) text += " at " + file + ":" + line.toString() + ":" + column.toString();
  text += "\n";
  const b = String.UTF8.encode(text);
  const iov = memory.data(8);
  store<u32>(iov, <u32>changetype<usize>(b), 0);
  store<u32>(iov, <u32>b.byteLength, 4);
  wasiFdWrite(2, iov, 1, memory.data(4));
  unreachable();
}

// ---- byte views ------------------------------------------------------------------------

/**
 * A read-only view of bytes in linear memory: input bytes, or bytes from {@link bytes}.
 * Views of input bytes are valid only during the batch handler.
 */
@final
export class Bytes {
  constructor(public readonly ptr: usize, public readonly length: u32) {}

  /** Returns byte i (i < length). */
  @inline at(i: u32): u8 {
    return load<u8>(this.ptr + i);
  }

  /** Reports whether the view holds exactly the bytes of other. */
  equals(other: Bytes): bool {
    return this.length == other.length && memory.compare(this.ptr, other.ptr, this.length) == 0;
  }

  /** Returns the position of the first byte b at or after from, or -1. */
  indexOf(b: u8, from: u32 = 0): i32 {
    for (let i = from; i < this.length; i++) {
      if (load<u8>(this.ptr + i) == b) return <i32>i;
    }
    return -1;
  }

  /** Returns the bytes [start, end) of the view, without copying. */
  slice(start: u32, end: u32): Bytes {
    if (end > this.length) end = this.length;
    if (start > end) start = end;
    return new Bytes(this.ptr + start, end - start);
  }

  /** Returns the view without leading and trailing spaces and tabs. */
  trim(): Bytes {
    let s: u32 = 0;
    let e = this.length;
    while (s < e && isBlank(load<u8>(this.ptr + s))) s++;
    while (e > s && isBlank(load<u8>(this.ptr + e - 1))) e--;
    return new Bytes(this.ptr + s, e - s);
  }

  /** Decodes the bytes as UTF-8 (invalid sequences become U+FFFD). */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, this.length);
  }
}

@inline function isBlank(c: u8): bool {
  return c == 0x20 || c == 0x09;
}

/**
 * Returns s as UTF-8 bytes that live as long as the instance. Use it for constants such
 * as field names, from top-level code, not per record.
 */
export function bytes(s: string): Bytes {
  const n = <u32>String.UTF8.byteLength(s);
  const size: usize = n > 0 ? <usize>n : 1;
  const p = heap.alloc(size);
  String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, p);
  return new Bytes(p, n);
}

// ---- input -----------------------------------------------------------------------------

const INPUT_MAGIC: u32 = 0x31425053; // "SPB1"
const OUTPUT_MAGIC: u32 = 0x314f5053; // "SPO1"
const STATUS_OK: u32 = 0;
const STATUS_ERROR: u32 = 1;
const STATUS_PASS: u32 = 2;
const FIELD_SIZE: u32 = 16;
const RECORD_SIZE: u32 = 24;
const OUTCOME_SIZE: u32 = 24;
const OUTPUT_HEADER_SIZE: u32 = 32;

/** A read-only view of one input batch, valid during one batch handler call. */
@final
export class Batch {
  private hdr: usize = 0;
  private records: usize = 0;
  private fields: usize = 0;
  /** Number of input records. */
  length: u32 = 0;

  /** @internal */
  reset(ptr: usize): void {
    this.hdr = ptr;
    this.length = load<u32>(ptr, 8);
    this.records = <usize>load<u32>(ptr, 12);
    this.fields = <usize>load<u32>(ptr, 20);
  }

  /** The batch topic. */
  topic(): Bytes {
    return new Bytes(<usize>load<u32>(this.hdr, 24), load<u32>(this.hdr, 28));
  }

  /** The batch source (for example the producer's IP). */
  source(): Bytes {
    return new Bytes(<usize>load<u32>(this.hdr, 32), load<u32>(this.hdr, 36));
  }

  /** Number of batch tags. */
  tagCount(): u32 {
    return load<u32>(this.hdr, 44);
  }

  /** Key of batch tag j. */
  tagKey(j: u32): Bytes {
    return this.entry(load<u32>(this.hdr, 40) + j, 0);
  }

  /** Value of batch tag j. */
  tagValue(j: u32): Bytes {
    return this.entry(load<u32>(this.hdr, 40) + j, 8);
  }

  /** Time of record i, Unix seconds. */
  sec(i: u32): u32 {
    return load<u32>(this.records + <usize>i * RECORD_SIZE, 0);
  }

  /** Nanoseconds within the second of record i. */
  nsec(i: u32): u32 {
    return load<u32>(this.records + <usize>i * RECORD_SIZE, 4);
  }

  /** Identity index of record i: its position in the host's whole batch. */
  index(i: u32): u32 {
    return load<u32>(this.records + <usize>i * RECORD_SIZE, 16);
  }

  /** Number of fields of record i. */
  fieldCount(i: u32): u32 {
    return load<u32>(this.records + <usize>i * RECORD_SIZE, 12);
  }

  /** Key of field j of record i. */
  key(i: u32, j: u32): Bytes {
    return this.entry(load<u32>(this.records + <usize>i * RECORD_SIZE, 8) + j, 0);
  }

  /** Value of field j of record i. */
  value(i: u32, j: u32): Bytes {
    return this.entry(load<u32>(this.records + <usize>i * RECORD_SIZE, 8) + j, 8);
  }

  /** Returns the position of record i's first field named key, or -1. */
  find(i: u32, key: Bytes): i32 {
    const rec = this.records + <usize>i * RECORD_SIZE;
    let e = this.fields + <usize>load<u32>(rec, 8) * FIELD_SIZE;
    const n = load<u32>(rec, 12);
    for (let j: u32 = 0; j < n; j++, e += FIELD_SIZE) {
      if (load<u32>(e, 4) == key.length && memory.compare(<usize>load<u32>(e, 0), key.ptr, key.length) == 0) {
        return <i32>j;
      }
    }
    return -1;
  }

  /** Returns the value of record i's first field named key, or null. */
  get(i: u32, key: Bytes): Bytes | null {
    const j = this.find(i, key);
    return j < 0 ? null : this.value(i, <u32>j);
  }

  /** @internal address of record i's first field entry */
  fieldEntries(i: u32): usize {
    return this.fields + <usize>load<u32>(this.records + <usize>i * RECORD_SIZE, 8) * FIELD_SIZE;
  }

  private entry(at: u32, off: usize): Bytes {
    const e = this.fields + <usize>at * FIELD_SIZE + off;
    return new Bytes(<usize>load<u32>(e, 0), load<u32>(e, 4));
  }
}

// ---- configuration ---------------------------------------------------------------------

/** The module configuration given to {@link onInit}, copied into the instance. */
@final
export class Config {
  constructor(private keys: string[], private values: string[]) {}

  /** Returns the value of key, or null when it is not set. */
  get(key: string): string | null {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.values[i];
    }
    return null;
  }

  /** The configured keys, sorted. */
  names(): string[] {
    return this.keys.slice(0);
  }
}

// ---- output ----------------------------------------------------------------------------

/** A growable raw buffer of fixed-size entries, reused across batches. */
class Table {
  ptr: usize = 0;
  len: u32 = 0;
  cap: u32 = 0;
  constructor(private size: u32) {}

  /** Makes room for n more entries and returns the address of the first. */
  add(n: u32): usize {
    if (this.len + n > this.cap) {
      let c = this.cap > 0 ? this.cap * 2 : 64;
      while (c < this.len + n) c *= 2;
      this.ptr = this.ptr == 0 ? heap.alloc(<usize>c * this.size) : heap.realloc(this.ptr, <usize>c * this.size);
      this.cap = c;
    }
    const at = this.ptr + <usize>this.len * this.size;
    this.len += n;
    return at;
  }
}

/**
 * The outputs of one batch. For every input record i, emit zero or more output records
 * and then set exactly one outcome: {@link ok}, {@link pass} or {@link error}.
 */
@final
export class Output {
  private outcomes: Table = new Table(OUTCOME_SIZE);
  private records: Table = new Table(RECORD_SIZE);
  private fields: Table = new Table(FIELD_SIZE);
  private mark: u32 = 0;
  // Bytes the module built this batch, kept until the next batch starts.
  private owned: ArrayBuffer[] = [];
  private header: usize = heap.alloc(OUTPUT_HEADER_SIZE);

  /** @internal */
  begin(n: u32): void {
    this.outcomes.len = 0;
    this.records.len = 0;
    this.fields.len = 0;
    this.mark = 0;
    this.owned.length = 0;
    const p = this.outcomes.add(n);
    for (let i: u32 = 0; i < n; i++) {
      const oc = p + <usize>i * OUTCOME_SIZE;
      store<u32>(oc, STATUS_ERROR, 0);
      store<u32>(oc, 0, 4);
      store<u32>(oc, 0, 8);
      store<u32>(oc, 0, 12);
      store<u32>(oc, <u32>NO_OUTCOME.ptr, 16);
      store<u32>(oc, NO_OUTCOME.length, 20);
    }
  }

  /** @internal */
  finish(): usize {
    const h = this.header;
    store<u32>(h, OUTPUT_MAGIC, 0);
    store<u32>(h, OUTPUT_HEADER_SIZE, 4);
    store<u32>(h, this.outcomes.len, 8);
    store<u32>(h, <u32>this.outcomes.ptr, 12);
    store<u32>(h, this.records.len, 16);
    store<u32>(h, <u32>this.records.ptr, 20);
    store<u32>(h, this.fields.len, 24);
    store<u32>(h, <u32>this.fields.ptr, 28);
    return h;
  }

  /** Starts a new output record with the given time. */
  emit(sec: u32, nsec: u32): void {
    const r = this.records.add(1);
    store<u32>(r, sec, 0);
    store<u32>(r, nsec, 4);
    store<u32>(r, this.fields.len, 8);
    store<u32>(r, 0, 12);
    store<u64>(r, 0, 16);
  }

  /**
   * Appends a field to the record last started. The bytes are referenced, not copied:
   * input bytes and {@link bytes} constants cost nothing.
   */
  field(key: Bytes, value: Bytes): void {
    this.rawField(<u32>key.ptr, key.length, <u32>value.ptr, value.length);
  }

  /** Appends a field whose value the module built; the SDK keeps a UTF-8 copy. */
  fieldString(key: Bytes, value: string): void {
    const b = String.UTF8.encode(value);
    this.owned.push(b);
    this.rawField(<u32>key.ptr, key.length, <u32>changetype<usize>(b), <u32>b.byteLength);
  }

  /** Emits input record i unchanged; only its 16-byte field entries are copied. */
  copy(batch: Batch, i: u32): void {
    this.emit(batch.sec(i), batch.nsec(i));
    const n = batch.fieldCount(i);
    if (n == 0) return;
    const dst = this.fields.add(n);
    memory.copy(dst, batch.fieldEntries(i), <usize>n * FIELD_SIZE);
    this.bump(n);
  }

  /**
   * Emits input record i with the value of its field j replaced by value; the other
   * field entries are copied as they are. Nothing is allocated.
   */
  copyWith(batch: Batch, i: u32, j: u32, value: Bytes): void {
    this.copy(batch, i);
    if (j >= batch.fieldCount(i)) return;
    const e = this.fields.ptr + <usize>(this.fields.len - batch.fieldCount(i) + j) * FIELD_SIZE;
    store<u32>(e, <u32>value.ptr, 8);
    store<u32>(e, value.length, 12);
  }

  /**
   * Emits the fields of input record i except those at positions skip (a field index, or
   * -1), for a module that replaces a field: call it after emit, then add the new field.
   */
  copyFields(batch: Batch, i: u32, skip: i32 = -1): void {
    const n = batch.fieldCount(i);
    const src = batch.fieldEntries(i);
    for (let j: u32 = 0; j < n; j++) {
      if (<i32>j == skip) continue;
      const e = src + <usize>j * FIELD_SIZE;
      this.rawField(load<u32>(e, 0), load<u32>(e, 4), load<u32>(e, 8), load<u32>(e, 12));
    }
  }

  /**
   * Input i succeeded: its outputs are the records emitted since the previous outcome
   * (none filters it out). route selects the sink route; 0 is the default.
   */
  ok(i: u32, route: u32): void {
    const oc = this.outcome(i);
    store<u32>(oc, STATUS_OK, 0);
    store<u32>(oc, this.mark, 4);
    store<u32>(oc, this.records.len - this.mark, 8);
    store<u32>(oc, route, 12);
    store<u64>(oc, 0, 16);
    this.mark = this.records.len;
  }

  /**
   * Input i goes on unchanged to route without an output record: the cheapest outcome for
   * records kept as they are. Records emitted since the previous outcome are discarded.
   */
  pass(i: u32, route: u32): void {
    const oc = this.outcome(i);
    store<u32>(oc, STATUS_PASS, 0);
    store<u64>(oc, 0, 4);
    store<u32>(oc, route, 12);
    store<u64>(oc, 0, 16);
    this.discard();
  }

  /**
   * Input i failed with msg: the host sends it to the dead-letter destination. Records
   * emitted since the previous outcome are discarded.
   */
  error(i: u32, msg: string): void {
    const b = String.UTF8.encode(msg);
    this.owned.push(b);
    const oc = this.outcome(i);
    store<u32>(oc, STATUS_ERROR, 0);
    store<u64>(oc, 0, 4);
    store<u32>(oc, 0, 12);
    store<u32>(oc, <u32>changetype<usize>(b), 16);
    store<u32>(oc, <u32>b.byteLength, 20);
    this.discard();
  }

  private discard(): void {
    if (this.records.len > this.mark) {
      this.fields.len = load<u32>(this.records.ptr + <usize>this.mark * RECORD_SIZE, 8);
      this.records.len = this.mark;
    }
  }

  private outcome(i: u32): usize {
    if (i >= this.outcomes.len) throw new RangeError("outcome for input " + i.toString() + " of " + this.outcomes.len.toString());
    return this.outcomes.ptr + <usize>i * OUTCOME_SIZE;
  }

  private rawField(k: u32, kl: u32, v: u32, vl: u32): void {
    if (this.records.len == this.mark) throw new Error("field before emit");
    const f = this.fields.add(1);
    store<u32>(f, k, 0);
    store<u32>(f, kl, 4);
    store<u32>(f, v, 8);
    store<u32>(f, vl, 12);
    this.bump(1);
  }

  private bump(n: u32): void {
    const r = this.records.ptr + <usize>(this.records.len - 1) * RECORD_SIZE;
    store<u32>(r, load<u32>(r, 12) + n, 12);
  }
}

// ---- handlers and ABI exports ----------------------------------------------------------

/**
 * A batch handler: sets one outcome per input record of batch in out. Returning a
 * non-null message fails the whole batch (use out.error for one bad record).
 */
export type BatchHandler = (batch: Batch, out: Output) => string | null;

/** An init handler: returns null to accept the configuration, or why it refuses it. */
export type InitHandler = (cfg: Config) => string | null;

let batchHandler: BatchHandler | null = null;
let initHandler: InitHandler | null = null;

/** Registers the batch handler. Call it from top-level code. */
export function onBatch(fn: BatchHandler): void {
  batchHandler = fn;
}

/** Registers the configuration handler. Call it from top-level code. */
export function onInit(fn: InitHandler): void {
  initHandler = fn;
}

const NO_OUTCOME = bytes("module set no outcome for this record");
const theBatch = new Batch();
const theOutput = new Output();
let arenaPtr: usize = 0;
let arenaCap: u32 = 0;
let lastError: ArrayBuffer = new ArrayBuffer(0);

function setError(msg: string): void {
  lastError = String.UTF8.encode(msg);
}

/** @internal ABI export slspipe_abi_v1: the version marker. */
export function abiV1(): void {}

/** @internal ABI export slspipe_arena. */
export function arena(size: u32): usize {
  if (size > arenaCap) {
    const c = size < 65536 ? 65536 : size + size / 4;
    if (arenaPtr != 0) heap.free(arenaPtr);
    arenaPtr = heap.alloc(c);
    arenaCap = c;
  }
  return arenaPtr;
}

/** @internal ABI export slspipe_init. */
export function init(ptr: usize, len: u32): i32 {
  const fn = initHandler;
  const n = load<u32>(ptr, 0);
  if (fn === null) {
    if (n == 0) return 0;
    setError("the module takes no configuration");
    return 1;
  }
  const keys = new Array<string>();
  const values = new Array<string>();
  for (let j: u32 = 0; j < n; j++) {
    const e = ptr + 8 + <usize>j * FIELD_SIZE;
    keys.push(String.UTF8.decodeUnsafe(<usize>load<u32>(e, 0), load<u32>(e, 4)));
    values.push(String.UTF8.decodeUnsafe(<usize>load<u32>(e, 8), load<u32>(e, 12)));
  }
  const err = fn(new Config(keys, values));
  if (err !== null) {
    setError(err);
    return 1;
  }
  return 0;
}

/** @internal ABI export slspipe_process. */
export function process(ptr: usize, len: u32): i64 {
  if (len < 64 || load<u32>(ptr, 0) != INPUT_MAGIC) {
    setError("input does not start with the ABI v1 magic");
    return -2;
  }
  const fn = batchHandler;
  if (fn === null) {
    setError("the module registered no batch handler (call onBatch from top-level code)");
    return -1;
  }
  theBatch.reset(ptr);
  theOutput.begin(theBatch.length);
  const err = fn(theBatch, theOutput);
  if (err !== null) {
    setError(err);
    return -1;
  }
  return (<i64>theOutput.finish() << 32) | OUTPUT_HEADER_SIZE;
}

/** @internal ABI export slspipe_last_error. */
export function lastErrorMessage(): u64 {
  return (<u64>changetype<usize>(lastError) << 32) | <u64>lastError.byteLength;
}

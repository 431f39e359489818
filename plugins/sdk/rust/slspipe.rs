//! Rust SDK for slspipe guest ABI v1 (see docs/abi.md). One file, no crates.
//!
//! Include it in a `cdylib` built for `wasm32-unknown-unknown` or `wasm32-wasi`:
//!
//! ```ignore
//! #[path = "path/to/plugins/sdk/rust/slspipe.rs"]
//! mod slspipe;
//!
//! // Called once per instance with the module's configuration.
//! pub fn init(cfg: &slspipe::Config) -> Result<(), String> { Ok(()) }
//!
//! // Called once per batch: for every input record i, emit outputs then call
//! // out.ok(i, route) or out.error(i, msg). Err fails the whole batch.
//! pub fn process<'a>(batch: &slspipe::Batch<'a>, out: &mut slspipe::Output<'a>) -> Result<(), String> {
//!     for i in 0..batch.len() { out.copy(batch, i); out.ok(i, 0); }
//!     Ok(())
//! }
//! ```
//!
//! The SDK defines the ABI exports and calls `crate::init` and `crate::process`.
#![allow(dead_code)]

use std::marker::PhantomData;

const INPUT_MAGIC: u32 = 0x3142_5053;
const OUTPUT_MAGIC: u32 = 0x314f_5053;
const STATUS_OK: u32 = 0;
const STATUS_ERROR: u32 = 1;
const STATUS_PASS: u32 = 2;

/// Log levels accepted by [`log`] (the host's slog levels).
pub const DEBUG: i32 = -4;
pub const INFO: i32 = 0;
pub const WARN: i32 = 4;
pub const ERROR: i32 = 8;

/// One field entry as laid out in guest memory: absolute addresses and lengths.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawField {
    pub key: u32,
    pub key_len: u32,
    pub value: u32,
    pub value_len: u32,
}

/// One record entry as laid out in guest memory.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawRecord {
    pub sec: u32,
    pub nsec: u32,
    pub field_first: u32,
    pub field_count: u32,
    pub index: u32,
    pub reserved: u32,
}

#[repr(C)]
struct InHeader {
    magic: u32,
    header_size: u32,
    record_count: u32,
    records: u32,
    field_count: u32,
    fields: u32,
    topic: u32,
    topic_len: u32,
    source: u32,
    source_len: u32,
    tags_first: u32,
    tags_count: u32,
    blob: u32,
    blob_len: u32,
    flags: u32,
    reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Outcome {
    status: u32,
    first: u32,
    count: u32,
    route: u32,
    msg: u32,
    msg_len: u32,
}

#[repr(C)]
#[derive(Default)]
struct OutHeader {
    magic: u32,
    header_size: u32,
    outcome_count: u32,
    outcomes: u32,
    record_count: u32,
    records: u32,
    field_count: u32,
    fields: u32,
}

fn bytes<'a>(addr: u32, len: u32) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // The host guarantees every input range lies inside linear memory.
    unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len as usize) }
}

fn table<'a, T>(addr: u32, len: u32) -> &'a [T] {
    if len == 0 {
        return &[];
    }
    unsafe { std::slice::from_raw_parts(addr as usize as *const T, len as usize) }
}

fn pair<'a>(f: &RawField) -> (&'a [u8], &'a [u8]) {
    (bytes(f.key, f.key_len), bytes(f.value, f.value_len))
}

/// A read-only view of the input batch; valid for the duration of one `process` call.
pub struct Batch<'a> {
    hdr: &'a InHeader,
    records: &'a [RawRecord],
    fields: &'a [RawField],
}

/// One input record.
pub struct Record<'a> {
    pub sec: u32,
    pub nsec: u32,
    /// Position of the record in the host's whole batch.
    pub index: u32,
    fields: &'a [RawField],
}

impl<'a> Batch<'a> {
    /// Number of input records.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    pub fn topic(&self) -> &'a [u8] {
        bytes(self.hdr.topic, self.hdr.topic_len)
    }
    pub fn source(&self) -> &'a [u8] {
        bytes(self.hdr.source, self.hdr.source_len)
    }
    /// Batch tags as key/value pairs.
    pub fn tags(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let s = self.hdr.tags_first as usize;
        self.fields[s..s + self.hdr.tags_count as usize].iter().map(pair)
    }
    /// Record i, i < len().
    pub fn record(&self, i: usize) -> Record<'a> {
        let r = &self.records[i];
        let s = r.field_first as usize;
        Record { sec: r.sec, nsec: r.nsec, index: r.index, fields: &self.fields[s..s + r.field_count as usize] }
    }
}

impl<'a> Record<'a> {
    /// The record's fields in order.
    pub fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.fields.iter().map(pair)
    }
    /// The value of the first field named key.
    pub fn get(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.fields.iter().map(pair).find(|(k, _)| *k == key).map(|(_, v)| v)
    }
    /// The raw field entries, for copying them unchanged to an output.
    pub fn raw_fields(&self) -> &'a [RawField] {
        self.fields
    }
}

/// Init configuration: key/value pairs sorted by key.
pub struct Config<'a> {
    entries: &'a [RawField],
}

impl<'a> Config<'a> {
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entries
            .iter()
            .map(pair)
            .find(|(k, _)| *k == key.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.entries.iter().map(pair)
    }
}

#[derive(Default)]
struct Store {
    hdr: OutHeader,
    outcomes: Vec<Outcome>,
    records: Vec<RawRecord>,
    fields: Vec<RawField>,
    owned: Vec<Vec<u8>>,
    mark: u32,
}

/// The output under construction. Field bytes must outlive the call: input bytes and
/// 'static data are referenced in place; anything else goes through `field_owned`.
pub struct Output<'a> {
    s: &'a mut Store,
    _batch: PhantomData<&'a [u8]>,
}

impl<'a> Output<'a> {
    /// Starts a new output record.
    pub fn emit(&mut self, sec: u32, nsec: u32) {
        let first = self.s.fields.len() as u32;
        self.s.records.push(RawRecord { sec, nsec, field_first: first, field_count: 0, index: 0, reserved: 0 });
    }
    /// Appends a field, referenced in place, to the record last started.
    pub fn field(&mut self, key: &'a [u8], value: &'a [u8]) {
        self.s.fields.push(RawField {
            key: key.as_ptr() as u32,
            key_len: key.len() as u32,
            value: value.as_ptr() as u32,
            value_len: value.len() as u32,
        });
        self.s.records.last_mut().expect("emit before field").field_count += 1;
    }
    /// Appends a field whose value the module built; the SDK keeps it until the call ends.
    pub fn field_owned(&mut self, key: &'a [u8], value: Vec<u8>) {
        let (ptr, len) = (value.as_ptr() as u32, value.len() as u32);
        self.s.owned.push(value);
        self.s.fields.push(RawField { key: key.as_ptr() as u32, key_len: key.len() as u32, value: ptr, value_len: len });
        self.s.records.last_mut().expect("emit before field").field_count += 1;
    }
    /// Emits input record i unchanged, copying only its field entries.
    pub fn copy(&mut self, batch: &Batch<'a>, i: usize) {
        let r = batch.record(i);
        self.emit(r.sec, r.nsec);
        self.s.fields.extend_from_slice(r.fields);
        self.s.records.last_mut().unwrap().field_count = r.fields.len() as u32;
    }
    /// Input i succeeded; its outputs are the records emitted since the previous outcome.
    pub fn ok(&mut self, i: usize, route: u32) {
        let n = self.s.records.len() as u32;
        self.s.outcomes[i] = Outcome { status: STATUS_OK, first: self.s.mark, count: n - self.s.mark, route, msg: 0, msg_len: 0 };
        self.s.mark = n;
    }
    /// Input i goes on unchanged to route, without an output record; records emitted since
    /// the previous outcome are discarded.
    pub fn pass(&mut self, i: usize, route: u32) {
        self.s.outcomes[i] = Outcome { status: STATUS_PASS, first: 0, count: 0, route, msg: 0, msg_len: 0 };
        self.s.mark = self.s.records.len() as u32;
    }
    /// Input i failed with msg; records emitted since the previous outcome are discarded.
    pub fn error(&mut self, i: usize, msg: &str) {
        let m = msg.as_bytes().to_vec();
        self.s.outcomes[i] = Outcome { status: STATUS_ERROR, first: 0, count: 0, route: 0, msg: m.as_ptr() as u32, msg_len: m.len() as u32 };
        self.s.owned.push(m);
        self.s.mark = self.s.records.len() as u32;
    }
}

#[link(wasm_import_module = "slspipe")]
extern "C" {
    #[link_name = "log"]
    fn host_log(level: i32, msg: *const u8, len: u32);
    #[link_name = "counter_add"]
    fn host_counter_add(name: *const u8, len: u32, delta: i64);
    #[link_name = "clock_now"]
    fn host_clock_now() -> i64;
}

/// Logs msg through the host at level (DEBUG, INFO, WARN, ERROR).
pub fn log(level: i32, msg: &str) {
    unsafe { host_log(level, msg.as_ptr(), msg.len() as u32) }
}

/// Adds delta to the host counter name.
pub fn counter_add(name: &str, delta: i64) {
    unsafe { host_counter_add(name.as_ptr(), name.len() as u32, delta) }
}

/// The host clock, Unix nanoseconds.
pub fn clock_now() -> i64 {
    unsafe { host_clock_now() }
}

static mut ARENA: Vec<u8> = Vec::new();
static mut STORE: Option<Store> = None;
static mut LAST_ERROR: Vec<u8> = Vec::new();

fn set_error(msg: String) {
    unsafe { LAST_ERROR = msg.into_bytes() }
}

#[no_mangle]
pub extern "C" fn slspipe_abi_v1() {}

#[no_mangle]
pub extern "C" fn slspipe_arena(n: u32) -> u32 {
    unsafe {
        if ARENA.capacity() < n as usize {
            ARENA = Vec::with_capacity(n as usize + n as usize / 4);
        }
        ARENA.as_mut_ptr() as u32
    }
}

#[no_mangle]
pub extern "C" fn slspipe_init(ptr: u32, _len: u32) -> i32 {
    let count = bytes(ptr, 4);
    let n = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
    let cfg = Config { entries: table(ptr + 8, n) };
    match crate::init(&cfg) {
        Ok(()) => 0,
        Err(e) => {
            set_error(e);
            1
        }
    }
}

#[no_mangle]
pub extern "C" fn slspipe_last_error() -> u64 {
    unsafe { ((LAST_ERROR.as_ptr() as u64) << 32) | LAST_ERROR.len() as u64 }
}

#[no_mangle]
pub extern "C" fn slspipe_process(ptr: u32, len: u32) -> i64 {
    if (len as usize) < std::mem::size_of::<InHeader>() {
        set_error("input shorter than the batch header".into());
        return -2;
    }
    let hdr: &InHeader = unsafe { &*(ptr as usize as *const InHeader) };
    if hdr.magic != INPUT_MAGIC {
        set_error("input does not start with the ABI v1 magic".into());
        return -2;
    }
    let batch = Batch { hdr, records: table(hdr.records, hdr.record_count), fields: table(hdr.fields, hdr.field_count) };
    let s = unsafe { STORE.get_or_insert_with(Store::default) };
    let missing = b"module set no outcome for this record";
    // Every outcome starts as "no outcome set", filled by doubling copies rather than one
    // loop iteration per record: with a batch deadline, each guest loop iteration costs a check.
    s.outcomes.clear();
    let n = batch.len();
    if n > 0 {
        s.outcomes.reserve(n);
        s.outcomes.push(Outcome { status: STATUS_ERROR, first: 0, count: 0, route: 0, msg: missing.as_ptr() as u32, msg_len: missing.len() as u32 });
        while s.outcomes.len() < n {
            let c = s.outcomes.len().min(n - s.outcomes.len());
            s.outcomes.extend_from_within(..c);
        }
    }
    s.records.clear();
    s.fields.clear();
    s.owned.clear();
    s.mark = 0;
    let mut out = Output { s, _batch: PhantomData };
    if let Err(e) = crate::process(&batch, &mut out) {
        set_error(e);
        return -1;
    }
    let s = out.s;
    s.hdr = OutHeader {
        magic: OUTPUT_MAGIC,
        header_size: std::mem::size_of::<OutHeader>() as u32,
        outcome_count: s.outcomes.len() as u32,
        outcomes: s.outcomes.as_ptr() as u32,
        record_count: s.records.len() as u32,
        records: s.records.as_ptr() as u32,
        field_count: s.fields.len() as u32,
        fields: s.fields.as_ptr() as u32,
    };
    (((&s.hdr as *const OutHeader as u32) as u64) << 32 | std::mem::size_of::<OutHeader>() as u64) as i64
}

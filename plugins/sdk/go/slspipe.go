//go:build wasip1

// Package slspipe is the Go SDK for slspipe guest ABI v1 (docs/abi.md).
//
// Build a module with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. Register the
// handlers from an init function (a c-shared module never runs main):
//
//	func init() { slspipe.Handle(process) }
//	func main() {}
//
// The SDK defines the ABI exports with //go:wasmexport. It has its own go.mod so that the
// host module's builds never compile it for the host platform.
package slspipe

import (
	"encoding/binary"
	"unsafe"
)

const (
	inputMagic  = 0x31425053
	outputMagic = 0x314f5053
	statusOK    = 0
	statusError = 1
	statusPass  = 2
	headerSize  = 64
	recordSize  = 24
	fieldSize   = 16
	outcomeSize = 24
	outHdrSize  = 32
)

// Log levels accepted by Log (the host's slog levels).
const (
	LevelDebug int32 = -4
	LevelInfo  int32 = 0
	LevelWarn  int32 = 4
	LevelError int32 = 8
)

var le = binary.LittleEndian

// ProcessFunc handles one batch: for every input record i it emits zero or more outputs
// and then calls out.OK(i, route) or out.Error(i, msg). A non-nil error fails the whole
// batch.
type ProcessFunc func(in *Batch, out *Output) error

// InitFunc receives the module configuration once per instance; an error refuses it.
type InitFunc func(cfg Config) error

var (
	process ProcessFunc
	initFn  InitFunc
)

// Handle registers the batch handler. Call it from an init function.
func Handle(fn ProcessFunc) { process = fn }

// HandleInit registers the configuration handler. Call it from an init function.
func HandleInit(fn InitFunc) { initFn = fn }

// addr returns the guest address of b's first byte.
func addr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// view exposes the arena, where the host writes every input byte, so input addresses
// resolve without unsafe pointer arithmetic.
type view struct {
	mem  []byte
	base uint32
}

func (v view) bytes(at, n uint32) []byte {
	o := at - v.base
	return v.mem[o : o+n : o+n]
}

// Batch is a read-only view of the input, valid during one ProcessFunc call.
type Batch struct {
	v       view
	n       int
	records []byte
	fields  []byte
	hdr     []byte
}

// Len returns the number of input records.
func (b *Batch) Len() int { return b.n }

// Topic returns the batch topic.
func (b *Batch) Topic() []byte { return b.v.bytes(le.Uint32(b.hdr[24:]), le.Uint32(b.hdr[28:])) }

// Source returns the batch source.
func (b *Batch) Source() []byte { return b.v.bytes(le.Uint32(b.hdr[32:]), le.Uint32(b.hdr[36:])) }

// Tags returns the batch tags as a record-like view.
func (b *Batch) Tags() Record {
	return Record{b: b, first: le.Uint32(b.hdr[40:]), count: le.Uint32(b.hdr[44:])}
}

// Record returns input record i.
func (b *Batch) Record(i int) Record {
	e := b.records[i*recordSize:]
	return Record{b: b, Sec: le.Uint32(e), Nsec: le.Uint32(e[4:]), first: le.Uint32(e[8:]), count: le.Uint32(e[12:]), Index: le.Uint32(e[16:])}
}

// Record is one input record.
type Record struct {
	b            *Batch
	Sec, Nsec    uint32
	Index        uint32 // position in the host's whole batch
	first, count uint32
}

// NumFields returns the number of fields.
func (r Record) NumFields() int { return int(r.count) }

// Field returns field j's key and value; they alias the input and must not be modified.
func (r Record) Field(j int) (key, value []byte) {
	e := r.b.fields[(int(r.first)+j)*fieldSize:]
	return r.b.v.bytes(le.Uint32(e), le.Uint32(e[4:])), r.b.v.bytes(le.Uint32(e[8:]), le.Uint32(e[12:]))
}

// Get returns the value of the first field named key.
func (r Record) Get(key string) ([]byte, bool) {
	for j := 0; j < int(r.count); j++ {
		if k, v := r.Field(j); string(k) == key {
			return v, true
		}
	}
	return nil, false
}

// Config is the module configuration, sorted by key.
type Config struct{ m map[string]string }

// Get returns the value of key.
func (c Config) Get(key string) (string, bool) { v, ok := c.m[key]; return v, ok }

// Output collects the outputs of one batch.
type Output struct {
	outcomes []byte
	records  []byte
	fields   []byte
	keep     [][]byte // module-built bytes referenced by fields, kept alive until the call ends
	nRecords uint32
	mark     uint32
	hdr      [outHdrSize]byte
	in       view
}

// Emit starts a new output record.
func (o *Output) Emit(sec, nsec uint32) {
	o.records = le.AppendUint32(o.records, sec)
	o.records = le.AppendUint32(o.records, nsec)
	o.records = le.AppendUint32(o.records, uint32(len(o.fields)/fieldSize))
	o.records = le.AppendUint32(o.records, 0)
	o.records = le.AppendUint32(o.records, 0)
	o.records = le.AppendUint32(o.records, 0)
	o.nRecords++
}

func (o *Output) ref(b []byte) uint32 {
	a := addr(b)
	if a < o.in.base || a >= o.in.base+uint32(len(o.in.mem)) {
		o.keep = append(o.keep, b)
	}
	return a
}

// Field appends a field to the record last started. Input bytes are referenced in place;
// other bytes are kept alive by the SDK until the call ends and must not be modified.
func (o *Output) Field(key, value []byte) {
	o.fields = le.AppendUint32(o.fields, o.ref(key))
	o.fields = le.AppendUint32(o.fields, uint32(len(key)))
	o.fields = le.AppendUint32(o.fields, o.ref(value))
	o.fields = le.AppendUint32(o.fields, uint32(len(value)))
	o.bumpFields(1)
}

func (o *Output) bumpFields(n uint32) {
	c := o.records[len(o.records)-recordSize+12:]
	le.PutUint32(c, le.Uint32(c)+n)
}

// Copy emits input record i unchanged, copying only its 16-byte field entries.
func (o *Output) Copy(in *Batch, i int) {
	r := in.Record(i)
	o.Emit(r.Sec, r.Nsec)
	o.fields = append(o.fields, in.fields[int(r.first)*fieldSize:int(r.first+r.count)*fieldSize]...)
	o.bumpFields(r.count)
}

// OK records that input i succeeded; its outputs are the records emitted since the
// previous outcome (none filters the record out). route 0 is the default sink route.
func (o *Output) OK(i int, route uint32) {
	e := o.outcomes[i*outcomeSize:]
	le.PutUint32(e, statusOK)
	le.PutUint32(e[4:], o.mark)
	le.PutUint32(e[8:], o.nRecords-o.mark)
	le.PutUint32(e[12:], route)
	le.PutUint32(e[16:], 0)
	le.PutUint32(e[20:], 0)
	o.mark = o.nRecords
}

// Pass records that input i goes on unchanged to route, without an output record; records
// emitted since the previous outcome are discarded.
func (o *Output) Pass(i int, route uint32) {
	e := o.outcomes[i*outcomeSize:]
	le.PutUint32(e, statusPass)
	clear(e[4:12])
	le.PutUint32(e[12:], route)
	clear(e[16:24])
	o.mark = o.nRecords
}

// Error records that input i failed; records emitted since the previous outcome are
// discarded.
func (o *Output) Error(i int, msg string) {
	b := []byte(msg)
	o.keep = append(o.keep, b)
	e := o.outcomes[i*outcomeSize:]
	le.PutUint32(e, statusError)
	clear(e[4:16])
	le.PutUint32(e[16:], addr(b))
	le.PutUint32(e[20:], uint32(len(b)))
	o.mark = o.nRecords
}

// Log writes msg to the host log at level.
func Log(level int32, msg string) {
	b := []byte(msg)
	hostLog(level, addr(b), uint32(len(b)))
}

// CounterAdd adds delta to the host counter name.
func CounterAdd(name string, delta int64) {
	b := []byte(name)
	hostCounterAdd(addr(b), uint32(len(b)), delta)
}

// ClockNow returns the host clock in Unix nanoseconds.
func ClockNow() int64 { return hostClockNow() }

//go:wasmimport slspipe log
func hostLog(level int32, ptr, n uint32)

//go:wasmimport slspipe counter_add
func hostCounterAdd(ptr, n uint32, delta int64)

//go:wasmimport slspipe clock_now
func hostClockNow() int64

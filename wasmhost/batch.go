package wasmhost

import "github.com/slspipe/slspipe/engine"

// Field is one key/value pair of a record or of the batch tags. It is the engine's
// field type, so records cross between the engine and a module without copying fields.
type Field = engine.Field

// Record is one log record: its time and its fields in order.
type Record struct {
	Sec, Nsec uint32
	Fields    []Field
}

// Batch is what one Process call hands the module. The host only reads it.
type Batch struct {
	Topic, Source []byte
	Tags          []Field
	Records       []Record
}

// Outcome is the module's verdict on one input record.
//
// Err nil means success: the record produced the outputs Result.Records[First:First+Count]
// (zero outputs means the record was filtered out, several mean fan-out), destined for the
// sink route Route (0 is the default route). Err non-nil is a *RecordError; the record has
// no outputs and belongs in the dead-letter destination.
type Outcome struct {
	First, Count int
	Route        uint32
	Err          error
}

// Result receives the outputs of Process. Reuse one Result across calls to avoid
// allocations.
//
// # Notes
//
//   - An output record that the module passed through unchanged shares its input's Fields
//     slice (and bytes): it stays valid as long as the input Batch does.
//   - Other outputs live in the Result's storage: valid until the next Process or Reset.
type Result struct {
	// Records holds every output record, grouped by input in input order.
	Records []Record
	// Outcomes has exactly one entry per input record.
	Outcomes []Outcome

	fields []Field
	bytes  []byte
}

// Reset empties r, keeping its storage for reuse.
func (r *Result) Reset() {
	clear(r.Records)
	r.Records = r.Records[:0]
	clear(r.Outcomes)
	r.Outcomes = r.Outcomes[:0]
	r.fields = r.fields[:0]
	r.bytes = r.bytes[:0]
}

// Outputs returns the output records of input record i.
func (r *Result) Outputs(i int) []Record {
	o := r.Outcomes[i]
	return r.Records[o.First : o.First+o.Count]
}

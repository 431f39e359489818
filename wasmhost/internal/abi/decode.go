package abi

import (
	"encoding/binary"
	"fmt"
)

var le = binary.LittleEndian

// Output is a structurally validated view of a guest's output inside a snapshot of its
// linear memory. ReadOutput checks the header, the outcome table and the record table;
// field entries are checked when read, through Field, so that records the host never
// reads field by field (unchanged pass-through records) cost no validation. It is valid
// only while mem is unchanged.
type Output struct {
	mem                       []byte
	outcomes, records, fields uint64
	nOutcomes, nRecs, nFields uint32
	msgBytes                  uint64
}

// Outcome is the guest's verdict on one input record.
type Outcome struct {
	Status       uint32
	First, Count uint32 // output record range when Status is StatusOK
	Route        uint32 // when Status is StatusOK or StatusPass
	Message      []byte // when Status is StatusError; aliases guest memory
}

// OutRecord is one output record; its fields are [FieldFirst, FieldFirst+FieldCount).
type OutRecord struct {
	Sec, Nsec              uint32
	FieldFirst, FieldCount uint32
}

// OutputError describes guest output that breaks the ABI.
type OutputError struct{ Reason string }

// Error returns the reason.
func (e *OutputError) Error() string { return e.Reason }

func bad(format string, args ...any) error {
	return &OutputError{Reason: fmt.Sprintf(format, args...)}
}

func inMem(mem []byte, off, n uint64) bool {
	return off <= uint64(len(mem)) && n <= uint64(len(mem))-off
}

// ReadOutput validates the output header at guest address ptr (length bytes), the
// outcome table against nInputs input records, and the record table. All addresses are
// absolute offsets into mem.
func ReadOutput(mem []byte, ptr, length uint32, nInputs int) (Output, error) {
	if length < OutputHeaderSize {
		return Output{}, bad("header of %d bytes, need at least %d", length, OutputHeaderSize)
	}
	if !inMem(mem, uint64(ptr), uint64(length)) {
		return Output{}, bad("header [%d,+%d) outside memory of %d bytes", ptr, length, len(mem))
	}
	h := mem[ptr : ptr+OutputHeaderSize]
	if m := le.Uint32(h); m != OutputMagic {
		return Output{}, bad("magic %#x, want %#x", m, OutputMagic)
	}
	if hs := le.Uint32(h[4:]); hs < OutputHeaderSize || hs > length {
		return Output{}, bad("header size %d", hs)
	}
	o := Output{
		mem:       mem,
		nOutcomes: le.Uint32(h[8:]),
		outcomes:  uint64(le.Uint32(h[12:])),
		nRecs:     le.Uint32(h[16:]),
		records:   uint64(le.Uint32(h[20:])),
		nFields:   le.Uint32(h[24:]),
		fields:    uint64(le.Uint32(h[28:])),
	}
	if uint64(o.nOutcomes) != uint64(nInputs) {
		return Output{}, bad("%d outcomes for %d input records", o.nOutcomes, nInputs)
	}
	if !inMem(mem, o.outcomes, uint64(o.nOutcomes)*OutcomeSize) {
		return Output{}, bad("outcome table outside memory")
	}
	if !inMem(mem, o.records, uint64(o.nRecs)*RecordSize) {
		return Output{}, bad("record table outside memory")
	}
	if !inMem(mem, o.fields, uint64(o.nFields)*FieldSize) {
		return Output{}, bad("field table outside memory")
	}
	var outputs uint64
	for i := uint32(0); i < o.nOutcomes; i++ {
		e := o.entry(o.outcomes, i, OutcomeSize)
		switch st := le.Uint32(e); st {
		case StatusOK:
			first, count := uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:]))
			if first+count > uint64(o.nRecs) {
				return Output{}, bad("outcome %d: outputs [%d,+%d) beyond %d records", i, first, count, o.nRecs)
			}
			outputs += count
		case StatusError:
			mo, ml := uint64(le.Uint32(e[16:])), uint64(le.Uint32(e[20:]))
			if !inMem(mem, mo, ml) {
				return Output{}, bad("outcome %d: message [%d,+%d) outside memory", i, mo, ml)
			}
			o.msgBytes += ml
		case StatusPass:
		default:
			return Output{}, bad("outcome %d: unknown status %d", i, st)
		}
	}
	// Bounding the totals by the table sizes bounds the host's work by the guest's memory,
	// however the guest aliases its entries.
	if outputs > uint64(o.nRecs) {
		return Output{}, bad("outcomes reference %d outputs, table has %d", outputs, o.nRecs)
	}
	var used uint64
	for r := uint32(0); r < o.nRecs; r++ {
		e := o.entry(o.records, r, RecordSize)
		first, count := uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		if first+count > uint64(o.nFields) {
			return Output{}, bad("record %d: fields [%d,+%d) beyond %d fields", r, first, count, o.nFields)
		}
		used += count
	}
	if used > uint64(o.nFields) {
		return Output{}, bad("records reference %d fields, table has %d", used, o.nFields)
	}
	return o, nil
}

func (o *Output) entry(table uint64, i uint32, size uint64) []byte {
	at := table + uint64(i)*size
	return o.mem[at : at+size : at+size]
}

// MessageBytes returns the total length of the error messages, all inside memory.
func (o *Output) MessageBytes() uint64 { return o.msgBytes }

// FieldCount returns the size of the output field table.
func (o *Output) FieldCount() uint32 { return o.nFields }

// Outcome returns the outcome for input record i, i < the nInputs given to ReadOutput.
func (o *Output) Outcome(i int) Outcome {
	e := o.entry(o.outcomes, uint32(i), OutcomeSize)
	oc := Outcome{Status: le.Uint32(e), Route: le.Uint32(e[12:])}
	switch oc.Status {
	case StatusOK:
		oc.First, oc.Count = le.Uint32(e[4:]), le.Uint32(e[8:])
	case StatusError:
		mo, ml := uint64(le.Uint32(e[16:])), uint64(le.Uint32(e[20:]))
		oc.Message = o.mem[mo : mo+ml : mo+ml]
	}
	return oc
}

// Record returns output record r, r < the record count of the output.
func (o *Output) Record(r uint32) OutRecord {
	e := o.entry(o.records, r, RecordSize)
	return OutRecord{Sec: le.Uint32(e), Nsec: le.Uint32(e[4:]), FieldFirst: le.Uint32(e[8:]), FieldCount: le.Uint32(e[12:])}
}

// FieldEntries returns the raw 16-byte entries of rec's fields.
func (o *Output) FieldEntries(rec OutRecord) []byte {
	at := o.fields + uint64(rec.FieldFirst)*FieldSize
	end := at + uint64(rec.FieldCount)*FieldSize
	return o.mem[at:end:end]
}

// Field returns output field f, or an error when its key or value lies outside memory.
// Both slices alias guest memory.
func (o *Output) Field(f uint32) (key, value []byte, err error) {
	e := o.entry(o.fields, f, FieldSize)
	ko, kl := uint64(le.Uint32(e)), uint64(le.Uint32(e[4:]))
	vo, vl := uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
	if !inMem(o.mem, ko, kl) || !inMem(o.mem, vo, vl) {
		return nil, nil, bad("field %d: key [%d,+%d) or value [%d,+%d) outside memory", f, ko, kl, vo, vl)
	}
	return o.mem[ko : ko+kl : ko+kl], o.mem[vo : vo+vl : vo+vl], nil
}

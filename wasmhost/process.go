package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/slspipe/slspipe/wasmhost/internal/abi"
)

// Process runs the module once over b and fills out (reset first) with one Outcome per
// input record and the output records.
//
// A record the guest rejects, or one that alone makes the guest trap, overrun the batch
// deadline or exhaust its memory, gets an Outcome whose Err is a *RecordError; the other
// records are processed normally. To find such a record the host re-creates the instance
// and bisects the batch, so a poison record costs about 2·log2(len) extra guest calls (and
// as many deadlines when it loops forever).
//
// A non-nil error means the whole batch failed and out is incomplete: ctx ended, the
// module was closed, the guest returned a negative status (ErrGuestStatus) or output that
// breaks the ABI (ErrBadOutput). The caller decides whether to retry or stop.
func (m *Module) Process(ctx context.Context, b *Batch, out *Result) error {
	out.Reset()
	n := len(b.Records)
	out.Outcomes = slices.Grow(out.Outcomes, n)[:n]
	out.Records = slices.Grow(out.Records, n) // most inputs have one output: one allocation, not a doubling series
	// Large batches go to the guest in chunks: the encoded input, the guest's output and
	// the host's copy then stay in the CPU cache, which costs less than the extra calls.
	for lo := 0; lo < n; lo += m.opts.MaxCallRecords {
		if err := m.processRange(ctx, b, lo, min(n, lo+m.opts.MaxCallRecords), out); err != nil {
			return err
		}
	}
	return nil
}

// isRecordFault reports whether an error may be caused by one record, so that bisecting
// the batch can isolate it.
func isRecordFault(kind error) bool {
	return kind == ErrTrap || kind == ErrDeadline || kind == ErrMemoryLimit
}

func (m *Module) processRange(ctx context.Context, b *Batch, lo, hi int, out *Result) error {
	s, err := m.pool.acquire(ctx)
	if err != nil {
		return fmt.Errorf("wasm module %q: %w", m.name, err)
	}
	err = m.runOn(ctx, s, b, lo, hi, out)
	m.pool.release(s)
	if err == nil {
		return nil
	}
	var me *ModuleError
	if !errors.As(err, &me) || !isRecordFault(me.Kind) {
		return err
	}
	if hi-lo == 1 {
		out.Outcomes[lo] = Outcome{
			First: len(out.Records),
			Err:   &RecordError{Module: m.name, Index: lo, Kind: me.Kind, Detail: me.Detail},
		}
		return nil
	}
	mid := lo + (hi-lo)/2
	if err := m.processRange(ctx, b, lo, mid, out); err != nil {
		return err
	}
	return m.processRange(ctx, b, mid, hi, out)
}

// runOn processes records [lo,hi) on the slot's instance. On a fault the instance is
// discarded, because a trapped guest's memory can no longer be trusted.
func (m *Module) runOn(ctx context.Context, s *slot, b *Batch, lo, hi int, out *Result) error {
	if s.inst == nil {
		in, err := m.newInstance(ctx)
		if err != nil {
			return err
		}
		s.inst = in
	}
	in := s.inst
	recs := b.Records[lo:hi]
	if err := in.plan.prepare(b, recs); err != nil {
		return fmt.Errorf("wasm module %q: %w", m.name, err)
	}
	size := in.plan.size
	callCtx, done := m.deadline(ctx, in)
	defer done()
	fault := func(err error) error {
		in.interrupted = in.watch.disarm()
		cerr := m.classify(ctx, in, in.stderr, err)
		in.close(ctx)
		s.inst = nil
		return cerr
	}

	ptr, err := in.ensureArena(callCtx, uint32(size))
	if err != nil {
		return fault(fmt.Errorf("%s: %w", abi.ExportArena, err))
	}
	view, ok := in.mem.Read(ptr, uint32(size))
	if !ok {
		// The instance would hand out the same bad arena again: replace it.
		in.close(ctx)
		s.inst = nil
		return moduleErr(m.name, ErrBadOutput, "%s returned %d, too close to the end of memory for %d bytes", abi.ExportArena, ptr, size)
	}
	in.plan.encode(view, ptr, b, recs, lo)
	in.memory.refused = false

	in.stack[0], in.stack[1] = uint64(ptr), uint64(size)
	if err := in.process.CallWithStack(callCtx, in.stack[:]); err != nil {
		return fault(fmt.Errorf("%s: %w", abi.ExportProcess, err))
	}
	res := int64(in.stack[0])
	if res < 0 {
		err := moduleErr(m.name, ErrGuestStatus, "%s returned status %d: %s", abi.ExportProcess, res, in.lastError(callCtx))
		if in.broken {
			in.close(ctx)
			s.inst = nil
		}
		return err
	}
	whole, _ := in.mem.Read(0, in.mem.Size())
	o, err := abi.ReadOutput(whole, uint32(res>>32), uint32(res), hi-lo)
	if err == nil {
		err = copyOutput(&o, b, lo, hi, in.plan.table, m.opts.MaxOutputBytes, out, m.name)
	}
	if err != nil {
		return &ModuleError{Module: m.name, Kind: ErrBadOutput, Detail: err.Error()}
	}
	return nil
}

// copyOutput moves validated guest output into out. An output record whose field
// entries are exactly its input's (a pass-through) shares the input's fields, so an
// unchanged record costs one comparison and no copy; other records have each field
// bounds-checked and copied. On invalid output, out is left as it was.
func copyOutput(o *abi.Output, b *Batch, lo, hi int, table []byte, maxBytes uint64, out *Result, module string) error {
	nRecs, nFields, nBytes := len(out.Records), len(out.fields), len(out.bytes)
	fail := func(err error) error {
		clear(out.Records[nRecs:])
		out.Records, out.fields, out.bytes = out.Records[:nRecs], out.fields[:nFields], out.bytes[:nBytes]
		clear(out.Outcomes[lo:hi])
		return err
	}
	if o.MessageBytes() > maxBytes {
		return fail(fmt.Errorf("error messages of %d bytes exceed the %d byte output limit", o.MessageBytes(), maxBytes))
	}
	budget := maxBytes - o.MessageBytes()
	entry := len(b.Tags) * abi.FieldSize // where input record lo's field entries start in table
	for i := 0; i < hi-lo; i++ {
		src := &b.Records[lo+i]
		inEntries := table[entry : entry+len(src.Fields)*abi.FieldSize]
		entry += len(inEntries)
		oc := o.Outcome(i)
		if oc.Status == abi.StatusPass {
			out.Outcomes[lo+i] = Outcome{First: len(out.Records), Count: 1, Route: oc.Route}
			out.Records = append(out.Records, *src)
			continue
		}
		if oc.Status == abi.StatusError {
			out.Outcomes[lo+i] = Outcome{
				First: len(out.Records),
				Err:   &RecordError{Module: module, Index: lo + i, Detail: string(oc.Message)},
			}
			continue
		}
		first := len(out.Records)
		for r := oc.First; r < oc.First+oc.Count; r++ {
			rec := o.Record(r)
			if int(rec.FieldCount) == len(src.Fields) && bytes.Equal(o.FieldEntries(rec), inEntries) {
				out.Records = append(out.Records, Record{Sec: rec.Sec, Nsec: rec.Nsec, Fields: src.Fields})
				continue
			}
			start := len(out.fields)
			for f := rec.FieldFirst; f < rec.FieldFirst+rec.FieldCount; f++ {
				key, val, err := o.Field(f)
				if err != nil {
					return fail(err)
				}
				n := uint64(len(key) + len(val))
				if n > budget {
					return fail(fmt.Errorf("output exceeds the %d byte limit", maxBytes))
				}
				budget -= n
				kAt := len(out.bytes)
				out.bytes = append(out.bytes, key...)
				vAt := len(out.bytes)
				out.bytes = append(out.bytes, val...)
				out.fields = append(out.fields, Field{
					Key:   out.bytes[kAt:vAt:vAt],
					Value: out.bytes[vAt:len(out.bytes):len(out.bytes)],
				})
			}
			end := len(out.fields)
			out.Records = append(out.Records, Record{Sec: rec.Sec, Nsec: rec.Nsec, Fields: out.fields[start:end:end]})
		}
		out.Outcomes[lo+i] = Outcome{First: first, Count: int(oc.Count), Route: oc.Route}
	}
	return nil
}

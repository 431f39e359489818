package wasmhost

import (
	"bytes"
	"context"
	"fmt"

	"github.com/slspipe/slspipe/engine"
)

// Output fields that a serializer stage uses to address the sink (docs/abi.md §6). The
// adapter moves them out of Fields into the engine record's dedicated members.
const (
	fieldPayload = "_payload"
	fieldSubject = "_subject"
	fieldHashKey = "_hash_key"
	fieldTopic   = "_topic"
)

// StageFactory adapts a Module to the engine's engine.StageFactory. Every stage it
// creates shares the module's instance pool, so the pool size bounds the parallelism.
type StageFactory struct {
	m      *Module
	routes []string
}

// NewStageFactory returns a factory for stages running m. routes names the sink routes a
// guest may select: outcome route i > 0 maps to routes[i-1]; route 0 leaves the record's
// route unset (the default route). The caller keeps ownership of m and closes it after
// the pipeline stops.
func NewStageFactory(m *Module, routes []string) *StageFactory {
	return &StageFactory{m: m, routes: routes}
}

// Name returns the module's name.
func (f *StageFactory) Name() string { return f.m.name }

// NewStage returns a stage for one engine worker.
func (f *StageFactory) NewStage(context.Context) (engine.Stage, error) {
	return &stage{m: f.m, routes: f.routes}, nil
}

// stage is used by one goroutine at a time (the engine's contract), so its scratch
// batch is reused between calls. Its Result is not: outputs must stay valid after the
// call, so each call gets fresh storage.
type stage struct {
	m      *Module
	routes []string
	batch  Batch
	fields []Field
}

// Process runs the module over in. Records that differ in topic, source or tags are
// sent in separate guest calls, because the ABI carries those per batch.
func (s *stage) Process(ctx context.Context, in []engine.Record, out *engine.Results) error {
	for lo := 0; lo < len(in); {
		hi := lo + 1
		for hi < len(in) && sameGroup(&in[lo], &in[hi]) {
			hi++
		}
		if err := s.run(ctx, in[lo:hi], out); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

func (s *stage) run(ctx context.Context, in []engine.Record, out *engine.Results) error {
	n := 0
	for i := range in {
		n += len(in[i].Fields)
	}
	s.fields = s.fields[:0]
	s.batch.Records = s.batch.Records[:0]
	first := &in[0]
	s.batch.Topic, s.batch.Source = []byte(first.Topic), []byte(first.Source)
	s.batch.Tags = s.batch.Tags[:0]
	for _, t := range first.Tags {
		s.batch.Tags = append(s.batch.Tags, Field(t))
	}
	for i := range in {
		r := &in[i]
		at := len(s.fields)
		for _, f := range r.Fields {
			s.fields = append(s.fields, Field(f))
		}
		s.batch.Records = append(s.batch.Records, Record{
			Sec: uint32(r.Time.Sec), Nsec: r.Time.Nsec, Fields: s.fields[at:len(s.fields):len(s.fields)],
		})
	}
	// Do not keep the engine's bytes alive through the scratch slices.
	defer clear(s.fields)
	var res Result
	if err := s.m.Process(ctx, &s.batch, &res); err != nil {
		return fmt.Errorf("stage %q: %w", s.m.name, err)
	}
	// One allocation holds the fields of every output of the call.
	slab := make([]engine.Field, 0, len(res.fields))
	for i, oc := range res.Outcomes {
		if oc.Err != nil {
			out.Reject(oc.Err)
			continue
		}
		route := ""
		if oc.Route > 0 {
			if int(oc.Route) > len(s.routes) {
				out.Reject(&RecordError{Module: s.m.name, Index: i, Detail: fmt.Sprintf("route %d is not configured (%d routes)", oc.Route, len(s.routes))})
				continue
			}
			route = s.routes[oc.Route-1]
		}
		base := len(out.Records)
		for _, r := range res.Outputs(i) {
			var rec engine.Record
			rec, slab = toEngine(&in[i], r, route, slab)
			out.Records = append(out.Records, rec)
		}
		out.Outcomes = append(out.Outcomes, engine.Outcome{Outputs: len(out.Records) - base})
	}
	return nil
}

// toEngine builds an engine record from an output, inheriting the input's batch-level
// attributes and lifting the serializer fields. The fields are appended to slab.
func toEngine(src *engine.Record, r Record, route string, slab []engine.Field) (engine.Record, []engine.Field) {
	e := engine.Record{
		Time:     engine.Timestamp{Sec: int64(r.Sec), Nsec: r.Nsec},
		Tags:     src.Tags,
		Topic:    src.Topic,
		Source:   src.Source,
		Identity: src.Identity,
		Route:    route,
		Subject:  src.Subject,
		HashKey:  src.HashKey,
	}
	start := len(slab)
	for _, f := range r.Fields {
		if len(f.Key) > 0 && f.Key[0] == '_' {
			switch string(f.Key) {
			case fieldPayload:
				e.Payload = f.Value
				continue
			case fieldSubject:
				e.Subject = string(f.Value)
				continue
			case fieldHashKey:
				e.HashKey = string(f.Value)
				continue
			case fieldTopic:
				e.Topic = string(f.Value)
				continue
			}
		}
		slab = append(slab, engine.Field(f))
	}
	e.Fields = slab[start:len(slab):len(slab)]
	return e, slab
}

func sameGroup(a, b *engine.Record) bool {
	if a.Topic != b.Topic || a.Source != b.Source || len(a.Tags) != len(b.Tags) {
		return false
	}
	if len(a.Tags) == 0 || &a.Tags[0] == &b.Tags[0] {
		return true
	}
	for i := range a.Tags {
		if !bytes.Equal(a.Tags[i].Key, b.Tags[i].Key) || !bytes.Equal(a.Tags[i].Value, b.Tags[i].Value) {
			return false
		}
	}
	return true
}

// Close does nothing: the Module is shared by every stage and closed by its owner.
func (s *stage) Close(context.Context) error { return nil }

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
	s.batch.Records = s.batch.Records[:0]
	first := &in[0]
	s.batch.Topic, s.batch.Source = []byte(first.Topic), []byte(first.Source)
	s.batch.Tags = first.Tags
	for i := range in {
		r := &in[i]
		s.batch.Records = append(s.batch.Records, Record{Sec: uint32(r.Time.Sec), Nsec: r.Time.Nsec, Fields: r.Fields})
	}
	// Do not keep the engine's bytes alive through the scratch batch.
	defer func() {
		clear(s.batch.Records)
		s.batch.Tags = nil
	}()
	var res Result
	if err := s.m.Process(ctx, &s.batch, &res); err != nil {
		return fmt.Errorf("stage %q: %w", s.m.name, err)
	}
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
			out.Records = append(out.Records, toEngine(&in[i], r, route))
		}
		out.Outcomes = append(out.Outcomes, engine.Outcome{Outputs: len(out.Records) - base})
	}
	return nil
}

// toEngine builds an engine record from an output, inheriting the input's batch-level
// attributes and lifting the serializer fields. The output's fields are shared, not
// copied: they live in the call's own Result (or are the input's), which nothing reuses.
func toEngine(src *engine.Record, r Record, route string) engine.Record {
	e := engine.Record{
		Time:     engine.Timestamp{Sec: int64(r.Sec), Nsec: r.Nsec},
		Tags:     src.Tags,
		Topic:    src.Topic,
		Source:   src.Source,
		Identity: src.Identity,
		Route:    route,
		Subject:  src.Subject,
		HashKey:  src.HashKey,
		Fields:   r.Fields,
	}
	var kept []engine.Field // stays nil, and e.Fields r.Fields, while nothing is lifted
	for j, f := range r.Fields {
		if len(f.Key) > 0 && f.Key[0] == '_' && liftField(&e, f) {
			if kept == nil {
				kept = append(make([]engine.Field, 0, len(r.Fields)-1), r.Fields[:j]...)
			}
			continue
		}
		if kept != nil {
			kept = append(kept, f)
		}
	}
	if kept != nil {
		e.Fields = kept
	}
	return e
}

// liftField moves a serializer field into e's dedicated member and reports whether f
// was one.
func liftField(e *engine.Record, f Field) bool {
	switch string(f.Key) {
	case fieldPayload:
		e.Payload = f.Value
	case fieldSubject:
		e.Subject = string(f.Value)
	case fieldHashKey:
		e.HashKey = string(f.Value)
	case fieldTopic:
		e.Topic = string(f.Value)
	default:
		return false
	}
	return true
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

package engine

import "context"

// Outcome is a stage's verdict on one input record.
type Outcome struct {
	// Outputs is how many records this input produced; they are the next
	// Outputs entries of [Results.Records], in input order. Zero means the
	// record was filtered out, which acknowledges it.
	Outputs int
	// Err, when non-nil, rejects the input record; Outputs must then be 0.
	// The pipeline's error policy decides what happens to the record.
	Err error
}

// Results collects what a stage produced for one call.
type Results struct {
	// Records are the outputs of all inputs, in input order.
	Records []Record
	// Outcomes holds exactly one outcome per input, in input order.
	Outcomes []Outcome

	// arena is the batch's output memory (see Buffer); set by the engine.
	arena *batchArena
}

// Buffer returns an empty slice with room for at least n bytes, for output
// bytes (payloads, rewritten values) of the records of this call.
//
// # Notes
//
//   - Inside a pipeline the memory belongs to the batch: it stays valid
//     until every output of the batch is confirmed, is counted against the
//     pipeline's in-flight byte budget, and is reused for a later batch
//     afterwards. Appending past n may reallocate; slice what was written
//     before handing it out.
//   - Called outside a pipeline (a stage driven directly, as in tests) it
//     is a plain allocation.
func (r *Results) Buffer(n int) []byte {
	if r.arena == nil {
		return make([]byte, 0, n)
	}
	return r.arena.alloc(n)
}

// Reset empties r and keeps its capacity.
func (r *Results) Reset() {
	r.Records = r.Records[:0]
	r.Outcomes = r.Outcomes[:0]
}

// Emit appends the outputs of one input record.
func (r *Results) Emit(outs ...Record) {
	r.Records = append(r.Records, outs...)
	r.Outcomes = append(r.Outcomes, Outcome{Outputs: len(outs)})
}

// Reject records that one input record failed with err.
func (r *Results) Reject(err error) {
	r.Outcomes = append(r.Outcomes, Outcome{Err: err})
}

// Stage transforms records, one batch per call.
//
// # Notes
//
//   - Process receives out empty (its capacity reused) and must append one
//     [Outcome] per input record and the outputs they announce. The engine
//     sets each output's [Identity] from its input, so a stage need not.
//   - A returned error fails the whole call (a trap, a timeout): the engine
//     applies the error policy to every input of the call. Per-record errors
//     are reported through [Outcome.Err] instead.
//   - Buffers: the stage must not retain in, or anything it points to, after
//     Process returns. Outputs may alias the inputs' bytes (the engine keeps
//     them alive until the batch is done), memory from [Results.Buffer]
//     (preferred: counted and reused), or memory the stage allocated for
//     them, but never a buffer the stage reuses on a later call.
//   - Concurrency: one instance is called by one goroutine at a time. The
//     engine creates one instance per worker through a [StageFactory].
type Stage interface {
	Process(ctx context.Context, in []Record, out *Results) error
	// Close releases the instance's resources.
	Close(ctx context.Context) error
}

// StageFactory creates instances of one stage, one per engine worker.
type StageFactory interface {
	// Name identifies the stage in metrics, logs and dead letters.
	Name() string
	// NewStage creates an instance.
	NewStage(ctx context.Context) (Stage, error)
}

// ProcessFunc is the signature of [Stage.Process].
type ProcessFunc func(ctx context.Context, in []Record, out *Results) error

// StageFunc returns a factory for a stateless stage implemented by fn; every
// instance shares fn, which must therefore be safe for concurrent use.
func StageFunc(name string, fn ProcessFunc) StageFactory {
	return funcFactory{name: name, fn: fn}
}

type funcFactory struct {
	name string
	fn   ProcessFunc
}

func (f funcFactory) Name() string { return f.name }

func (f funcFactory) NewStage(context.Context) (Stage, error) { return funcStage(f.fn), nil }

type funcStage ProcessFunc

func (s funcStage) Process(ctx context.Context, in []Record, out *Results) error {
	return s(ctx, in, out)
}

func (funcStage) Close(context.Context) error { return nil }

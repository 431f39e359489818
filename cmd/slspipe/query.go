package main

import (
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/spl"
)

// queryStep is the name `slspipe test` gives the source's SPL statement in
// its output, like a step's.
const queryStep = "source.sls.query"

// applyQuery runs the source's SPL statement on sample records the way SLS
// runs it on pulled logs: it returns the records it keeps, as it reshapes
// them, with their input lines, and one error item per record it fails on.
func applyQuery(prog *spl.Program, recs []engine.Record, lines []int, named bool) ([]engine.Record, []int, []testItem) {
	var kept []engine.Record
	var keptLines []int
	var failed []testItem
	var row spl.Row
	for i, rec := range recs {
		row.Fields = row.Fields[:0]
		for _, f := range rec.Fields {
			row.Fields = append(row.Fields, spl.Field{Key: string(f.Key), Value: string(f.Value)})
		}
		row.Tags = row.Tags[:0]
		for _, f := range rec.Tags {
			row.Tags = append(row.Tags, spl.Field{Key: string(f.Key), Value: string(f.Value)})
		}
		row.Time, row.TimeNs, row.Topic, row.Source = rec.Time.Sec, rec.Time.Nsec, rec.Topic, rec.Source
		ok, err := prog.Apply(&row)
		if err != nil {
			failed = append(failed, testItem{input: lines[i], line: formatTestError(err, lines[i], queryStep, named)})
			continue
		}
		if !ok {
			continue
		}
		out := rec
		out.Fields = make([]engine.Field, len(row.Fields))
		for j, f := range row.Fields {
			out.Fields[j] = engine.Field{Key: []byte(f.Key), Value: []byte(f.Value)}
		}
		out.Time = engine.Timestamp{Sec: row.Time, Nsec: row.TimeNs}
		kept = append(kept, out)
		keptLines = append(keptLines, lines[i])
	}
	return kept, keptLines, failed
}

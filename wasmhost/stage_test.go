package wasmhost_test

import (
	"context"
	"errors"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/wasmhost"
)

func engineRecord(topic string, idx int, action string) engine.Record {
	r := engine.Record{
		Topic:    topic,
		Time:     engine.Timestamp{Sec: int64(1000 + idx), Nsec: 7},
		Identity: engine.Identity{Logstore: "ls", Shard: 1, Cursor: "c", Index: idx},
		Fields:   []engine.Field{{Key: []byte("n"), Value: []byte{byte('a' + idx)}}},
	}
	if action != "" {
		r.Fields = append(r.Fields, engine.Field{Key: []byte("_action"), Value: []byte(action)})
	}
	return r
}

func TestStageAdapter(t *testing.T) {
	ctx := context.Background()
	m, err := wasmhost.Open(ctx, modulePath(t, "c_behave"), wasmhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	var f engine.StageFactory = wasmhost.NewStageFactory(m, []string{"audit"})
	st, err := f.NewStage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	in := []engine.Record{
		engineRecord("t1", 0, ""),
		engineRecord("t1", 1, "drop"),
		engineRecord("t2", 2, "dup"), // a new topic starts a second guest call
		engineRecord("t2", 3, "error"),
		engineRecord("t2", 4, "serialize"),
		engineRecord("t2", 5, "trap"),
	}
	var out engine.Results
	if err := st.Process(ctx, in, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Outcomes) != len(in) {
		t.Fatalf("%d outcomes for %d inputs", len(out.Outcomes), len(in))
	}
	wantOutputs := []int{1, 0, 1, 0, 1, 0}
	for i, w := range wantOutputs {
		if out.Outcomes[i].Outputs != w {
			t.Fatalf("input %d: %+v", i, out.Outcomes[i])
		}
	}
	if out.Outcomes[3].Err == nil || !errors.Is(out.Outcomes[5].Err, wasmhost.ErrTrap) {
		t.Fatalf("errors: %v / %v", out.Outcomes[3].Err, out.Outcomes[5].Err)
	}
	if len(out.Records) != 3 {
		t.Fatalf("%d outputs", len(out.Records))
	}
	first, dup, ser := out.Records[0], out.Records[1], out.Records[2]
	if v, _ := first.Get("n"); string(v) != "a" || first.Topic != "t1" || first.Time.Sec != 1000 || first.Route != "" {
		t.Fatalf("first output: %+v", first)
	}
	if dup.Route != "audit" || dup.Topic != "t2" || dup.Identity.Index != 2 {
		t.Fatalf("dup output: %+v", dup)
	}
	if string(ser.Payload) != "e" || ser.Subject != "subj" || ser.HashKey != "k" || len(ser.Fields) != 1 || string(ser.Fields[0].Key) != "kept" {
		t.Fatalf("serialized output: %+v", ser)
	}
}

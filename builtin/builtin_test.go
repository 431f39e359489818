package builtin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/builtin"
	"github.com/slspipe/slspipe/engine"
)

func run(t *testing.T, role, name string, cfg map[string]string, in ...engine.Record) engine.Results {
	t.Helper()
	f, err := builtin.New(role, name, role, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f == nil {
		t.Fatalf("%s %s: no stage", role, name)
	}
	st, err := f.NewStage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out engine.Results
	if err := st.Process(context.Background(), in, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Outcomes) != len(in) {
		t.Fatalf("%d outcomes for %d inputs", len(out.Outcomes), len(in))
	}
	return out
}

func rec(kv ...string) engine.Record {
	r := engine.Record{Time: engine.Timestamp{Sec: 1700000000, Nsec: 5}, Topic: "t", Source: "10.0.0.1"}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Fields = append(r.Fields, engine.Field{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return r
}

func TestSerializeJSONThenDeserialize(t *testing.T) {
	in := rec("msg", "say \"hi\"\n\tbye\\", "ctrl", "\x01", "bad", "a\xffb", "uni", "日本")
	in.Tags = []engine.Field{{Key: []byte("host"), Value: []byte("web-1")}}
	out := run(t, builtin.RoleSerialize, "json", nil, in)
	payload := out.Records[0].Payload
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("payload %q is not JSON: %v", payload, err)
	}
	want := map[string]any{
		"__time__": 1700000000.0, "__time_ns__": 5.0, "__topic__": "t", "__source__": "10.0.0.1",
		"__tag__:host": "web-1", "msg": "say \"hi\"\n\tbye\\", "ctrl": "\x01", "bad": "a\ufffdb", "uni": "日本",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("payload has %d members, want %d: %s", len(m), len(want), payload)
	}

	// The payload parses back into the same record: time, topic, source,
	// tags and fields in order.
	back := run(t, builtin.RoleDeserialize, "json", nil, engine.Record{Payload: payload}).Records[0]
	if back.Time != in.Time || back.Topic != "t" || back.Source != "10.0.0.1" || len(back.Tags) != 1 {
		t.Errorf("attributes = %+v", back)
	}
	if string(back.Fields[0].Key) != "msg" || len(back.Fields) != 4 {
		t.Errorf("fields = %q", back.Fields)
	}
	if v, _ := back.Get("msg"); string(v) != "say \"hi\"\n\tbye\\" {
		t.Errorf("msg = %q", v)
	}
}

func TestDeserializeJSONFromFieldAndErrors(t *testing.T) {
	out := run(t, builtin.RoleDeserialize, "json", map[string]string{"field": "body"},
		rec("body", `{"a":1,"b":"x","c":{"d":[1,2]},"e":null}`),
		rec("body", `[1,2]`),
		rec("body", `{"a":1`),
		rec("other", "x"),
		rec("body", `{"a":1} {"b":2}`),
	)
	if out.Outcomes[0].Err != nil || out.Outcomes[0].Outputs != 1 {
		t.Fatalf("valid object: %+v", out.Outcomes[0])
	}
	var pairs []string
	for _, f := range out.Records[0].Fields {
		pairs = append(pairs, string(f.Key)+"="+string(f.Value))
	}
	if got := strings.Join(pairs, " "); got != `a=1 b=x c={"d":[1,2]} e=` {
		t.Errorf("fields = %s", got)
	}
	for i, want := range []string{"not a JSON object", "unterminated", "no field \"body\"", "trailing data"} {
		err := out.Outcomes[i+1].Err
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("input %d: error %v, want one mentioning %q", i+1, err, want)
		}
	}
}

func TestSerializeRaw(t *testing.T) {
	out := run(t, builtin.RoleSerialize, "raw", map[string]string{"field": "line"}, rec("line", "GET /"), rec("x", "y"))
	if string(out.Records[0].Payload) != "GET /" {
		t.Errorf("payload = %q", out.Records[0].Payload)
	}
	if out.Outcomes[1].Err == nil || !strings.Contains(out.Outcomes[1].Err.Error(), `no field "line"`) {
		t.Errorf("missing field: %v", out.Outcomes[1].Err)
	}
}

func TestNoWorkBuiltinsAndBadNames(t *testing.T) {
	for _, c := range [][2]string{{builtin.RoleDeserialize, "sls"}, {builtin.RoleTransform, "identity"}} {
		f, err := builtin.New(c[0], c[1], "s", nil)
		if err != nil || f != nil {
			t.Errorf("%s %s: %v, %v; want no stage and no error", c[0], c[1], f, err)
		}
	}
	if _, err := builtin.New(builtin.RoleSerialize, "avro", "s", nil); err == nil || !strings.Contains(err.Error(), "json, raw") {
		t.Errorf("unknown built-in: %v", err)
	}
	if _, err := builtin.New(builtin.RoleSerialize, "raw", "s", map[string]string{"feild": "x"}); err == nil || !strings.Contains(err.Error(), `"feild"`) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := builtin.New(builtin.RoleTransform, "identity", "s", map[string]string{"a": "b"}); err == nil {
		t.Error("identity accepted config")
	}
}

func BenchmarkSerializeJSON(b *testing.B) {
	in := make([]engine.Record, 100)
	for i := range in {
		in[i] = rec("remote_addr", "10.1.2.3", "method", "GET", "path", "/api/v1/items?id=42", "status", "200",
			"bytes", "5123", "referer", "-", "ua", "Mozilla/5.0 (X11; Linux x86_64)", "rt", "0.012", "host", "web-3", "proto", "HTTP/1.1")
	}
	f, _ := builtin.New(builtin.RoleSerialize, "json", "s", nil)
	st, _ := f.NewStage(context.Background())
	var out engine.Results
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		_ = st.Process(context.Background(), in, &out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/record")
}

package recordjson_test

import (
	"strings"
	"testing"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/recordjson"
)

// TestAppendParseRoundTrip writes a record and reads it back: time, topic,
// source, tags and fields, in order, with escapes.
func TestAppendParseRoundTrip(t *testing.T) {
	in := engine.Record{
		Time:   engine.Timestamp{Sec: 1700000000, Nsec: 42},
		Topic:  "nginx",
		Source: "10.0.0.1",
		Tags:   []engine.Field{{Key: []byte("host"), Value: []byte("web-1")}},
		Fields: []engine.Field{
			{Key: []byte("msg"), Value: []byte("say \"hi\"\n\tbye\\")},
			{Key: []byte("uni"), Value: []byte("日本")},
			{Key: []byte("msg"), Value: []byte("again")},
		},
	}
	line := recordjson.Append(nil, &in)
	var out engine.Record
	if err := recordjson.Parse(&out, line); err != nil {
		t.Fatalf("Parse(%s): %v", line, err)
	}
	if out.Time != in.Time || out.Topic != in.Topic || out.Source != in.Source {
		t.Errorf("attributes = %+v, want those of %+v", out, in)
	}
	if len(out.Tags) != 1 || string(out.Tags[0].Value) != "web-1" {
		t.Errorf("tags = %q", out.Tags)
	}
	if len(out.Fields) != len(in.Fields) {
		t.Fatalf("fields = %q", out.Fields)
	}
	for i := range in.Fields {
		if string(out.Fields[i].Key) != string(in.Fields[i].Key) || string(out.Fields[i].Value) != string(in.Fields[i].Value) {
			t.Errorf("field %d = %s=%q, want %s=%q", i, out.Fields[i].Key, out.Fields[i].Value, in.Fields[i].Key, in.Fields[i].Value)
		}
	}
}

func TestParseValuesAndErrors(t *testing.T) {
	var r engine.Record
	if err := recordjson.Parse(&r, []byte(`{"a":1.5,"b":{"c": [1, 2]},"d":null,"e":true}`)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Fields {
		got = append(got, string(f.Key)+"="+string(f.Value))
	}
	if s := strings.Join(got, " "); s != `a=1.5 b={"c":[1,2]} d= e=true` {
		t.Errorf("fields = %s", s)
	}
	for in, want := range map[string]string{
		`[1]`:                 "not a JSON object",
		`{"a":1`:              "unterminated",
		`{"a":1} {}`:          "trailing data",
		`{"__time__":"x"}`:    "want Unix seconds",
		`{"__time_ns__":2e9}`: "below 1e9",
		``:                    "not JSON",
	} {
		var r engine.Record
		if err := recordjson.Parse(&r, []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

package nats

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slspipe/slspipe/engine"
)

func rec(kv ...string) *engine.Record {
	r := &engine.Record{}
	for i := 0; i < len(kv); i += 2 {
		r.Fields = append(r.Fields, engine.Field{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return r
}

func TestSubjectTemplate(t *testing.T) {
	for _, tc := range []struct {
		tmpl, want, wantErr string
		r                   *engine.Record
	}{
		{tmpl: "logs.all", r: rec("host", "a"), want: "logs.all"},
		{tmpl: "logs.{{host}}", r: rec("host", "web-1"), want: "logs.web-1"},
		{tmpl: "logs.{{ host }}.{{level}}", r: rec("level", "warn", "host", "a.example.com"), want: "logs.a.example.com.warn"},
		{tmpl: "logs.{{host}}", r: rec("host", "bad host*>"), want: "logs.bad_host__"},
		{tmpl: "logs.{{host}}", r: rec("seq", "1"), wantErr: `no value for field "host"`},
		{tmpl: "logs.{{host}}", r: rec("host", ""), wantErr: `no value for field "host"`},
		{tmpl: "logs.{{host}}", r: &engine.Record{Subject: "set.by.serializer"}, want: "set.by.serializer"},
	} {
		st, err := compileSubject(tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := st.subject(tc.r, nil)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.tmpl, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
}

func TestSubjectTemplateErrorsAndWildcards(t *testing.T) {
	for _, bad := range []string{"", "logs.{{host", "logs.{{}}"} {
		if _, err := compileSubject(bad); err == nil {
			t.Errorf("compileSubject(%q) accepted", bad)
		}
	}
	for tmpl, want := range map[string]string{"logs.x": "logs.x", "logs.{{h}}": "logs.>", "a.b.{{h}}.c": "a.b.>", "{{h}}.x": ">", "pre{{h}}": ">"} {
		st, err := compileSubject(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.wildcard(); got != want {
			t.Errorf("wildcard(%q) = %q, want %q", tmpl, got, want)
		}
	}
}

func TestTemplatedSubjectAllocatesNothingOnceSeen(t *testing.T) {
	st, _ := compileSubject("logs.{{host}}")
	r := rec("host", "web-1")
	buf := make([]byte, 0, 64)
	_, buf, _ = st.subject(r, buf)
	if n := testing.AllocsPerRun(100, func() { _, buf, _ = st.subject(r, buf) }); n != 0 {
		t.Fatalf("%v allocations per subject", n)
	}
}

func TestPayloadIsAJSONObjectOfTheFields(t *testing.T) {
	r := rec("msg", "quote \" backslash \\ newline \n tab \t ctl \x01 é 😀", "bad", "\xff\xfe", "n", "1", "n", "2")
	out := appendPayload(nil, r)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	var kv map[string]string
	if err := json.Unmarshal(out, &kv); err != nil {
		t.Fatal(err)
	}
	if kv["msg"] != "quote \" backslash \\ newline \n tab \t ctl \x01 é 😀" || kv["bad"] != "\ufffd\ufffd" {
		t.Fatalf("decoded %q", kv)
	}
	if want := `{"msg":`; string(out[:len(want)]) != want {
		t.Fatalf("fields out of order: %s", out)
	}
	r.Payload = []byte("raw")
	if got := appendPayload(nil, r); string(got) != "raw" {
		t.Fatalf("serialized payload replaced by %s", got)
	}
	if got := appendPayload(nil, &engine.Record{}); string(got) != "{}" {
		t.Fatalf("empty record gives %s", got)
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	r := rec("remote_addr", "10.0.0.1", "method", "GET", "host", "shop.example.com", "request_uri", "/api/v1/cart/items/5712",
		"status", "200", "body_bytes_sent", "1264", "http_user_agent", "Mozilla/5.0 (X11; Linux x86_64)")
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPayload(buf[:0], r)
	}
	b.SetBytes(int64(len(buf)))
}

package config

import (
	"errors"
	"strings"
	"testing"
)

// TestQueryErrorPosition: a statement that does not parse is reported at
// the file line and column of the problem inside the YAML scalar, for every
// way of writing the scalar.
func TestQueryErrorPosition(t *testing.T) {
	const head = "name: q\nsource:\n  sls:\n    endpoint: http://127.0.0.1:9100\n    project: demo\n    logstore: ab\n"
	const tail = "sink:\n  stdout: {}\n"
	for _, tc := range []struct {
		name, query string
		line, col   int
	}{
		// The problem is the ">=" in each (a varchar meets a number).
		{"single-quoted", "    query: '* | where uri = ''a'' and status >= 500'\n", 7, 46},
		{"double-quoted", "    query: \"* | where uri = \\\"x\\\" or status >= 500\"\n", 7, 45},
		{"literal block", "    query: |\n      *\n      | where uri like '/api/%'\n      | where status >= 500\n", 10, 22},
		{"folded block", "    query: >\n      * | where uri = 'x'\n      | where status >= 500\n", 9, 22},
		{"single-quoted multi-line", "    query: '* | where uri = ''x''\n      | where status >= 500'\n", 8, 22},
		{"unsupported", "    query: '* | stats count(*)'\n", 7, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(head+tc.query+tail), lookupIn(nil), t.TempDir())
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.List) != 1 {
				t.Fatalf("Parse = %v; want one error", err)
			}
			e := errs.List[0]
			if e.Line != tc.line || e.Column != tc.col || !strings.Contains(e.Msg, "source.sls.query: invalid SPL") {
				t.Errorf("got %s, want p.yaml:%d:%d: source.sls.query: invalid SPL…", e.Error(), tc.line, tc.col)
			}
			lines := strings.Split(head+tc.query, "\n")
			if l := lines[e.Line-1]; e.Column-1 < len(l) {
				t.Logf("%s\n%s^", l, strings.Repeat(" ", e.Column-1))
			}
		})
	}
	// Through ${VAR}, the position inside the statement is in the message.
	_, err := Parse("p.yaml", []byte(head+"    query: ${Q}\n"+tail), lookupIn(map[string]string{"Q": "* | where a >= 1"}), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "p.yaml:7:12: source.sls.query: invalid SPL: '>=' cannot be applied to varchar, bigint") ||
		!strings.Contains(err.Error(), "(statement line 1, column 13)") {
		t.Errorf("interpolated: %v", err)
	}
	// A good statement loads.
	p, err := Parse("p.yaml", []byte(head+"    query: \"* | where cast(status as bigint) >= 500 | project uri\"\n"+tail), lookupIn(nil), t.TempDir())
	if err != nil || p.Source.SLS.Query == "" {
		t.Fatalf("good query: %v", err)
	}
}

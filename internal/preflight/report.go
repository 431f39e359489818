package preflight

import (
	"fmt"
	"io"
	"strings"
)

// Section is the checks of one part of a pipeline (its source, sink or
// dead-letter destination).
type Section struct {
	// Title names the part, e.g. `source sls: project "demo" at https://…`.
	Title   string
	Results []Result
}

// Report is every check of a pipeline, by part.
type Report struct {
	Sections []Section
}

// Add appends a section.
func (r *Report) Add(title string, results []Result) {
	r.Sections = append(r.Sections, Section{Title: title, Results: results})
}

// Count returns how many results have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, sec := range r.Sections {
		for _, res := range sec.Results {
			if res.Status == s {
				n++
			}
		}
	}
	return n
}

// OK reports whether nothing is missing or failed.
func (r *Report) OK() bool { return r.Count(Missing) == 0 && r.Count(Failed) == 0 }

// Missing returns the grants of every missing permission, merged into one
// policy document, and false when no permission is missing.
func (r *Report) Missing() (Document, bool) {
	return r.policy(Missing)
}

// NotProbed returns the grants of the actions that were not probed,
// merged, leaving out any action another check probed on the same
// resource.
func (r *Report) NotProbed() (Document, bool) {
	return r.policy(Skipped)
}

func (r *Report) policy(s Status) (Document, bool) {
	type target struct{ action, resource string }
	probed := map[target]bool{}
	for _, sec := range r.Sections {
		for _, res := range sec.Results {
			if res.Status != Skipped && res.Action != "" {
				probed[target{res.Action, res.Resource}] = true
			}
		}
	}
	var grants []Statement
	for _, sec := range r.Sections {
		for _, res := range sec.Results {
			if res.Status != s || res.Grant == nil {
				continue
			}
			if s == Skipped && probed[target{res.Action, res.Resource}] {
				continue
			}
			grants = append(grants, *res.Grant)
		}
	}
	if len(grants) == 0 {
		return Document{}, false
	}
	return Policy(grants), true
}

// WriteText writes the report for a terminal: per section one line per
// check (status, what was checked, the resource, what was found), under a
// denial the statement to add, and at the end a summary, the policy
// document granting everything missing, and the actions not probed.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	for i, sec := range r.Sections {
		if i > 0 {
			ew.printf("\n")
		}
		ew.printf("%s\n", sec.Title)
		checkW, resW := 0, 0
		for _, res := range sec.Results {
			checkW = max(checkW, len(checkLabel(res)))
			resW = max(resW, len(res.Resource))
		}
		for _, res := range sec.Results {
			line := fmt.Sprintf("  %-7s  %-*s  %-*s  %s", res.Status, checkW, checkLabel(res), resW, res.Resource, res.Detail)
			ew.printf("%s\n", strings.TrimRight(line, " "))
			switch {
			case res.Status == Missing && res.Grant != nil:
				ew.printf("           add to the policy: %s\n", res.Grant)
			case res.Fix != "" && (res.Status == Missing || res.Status == Failed):
				ew.printf("           fix: %s\n", res.Fix)
			}
		}
	}
	ew.printf("\n%d ok, %d missing, %d failed, %d skipped\n", r.Count(OK), r.Count(Missing), r.Count(Failed), r.Count(Skipped))
	if doc, ok := r.Missing(); ok {
		ew.printf("\nRAM policy granting everything missing (attach it to the RAM user or role of the access key):\n%s\n", doc)
	}
	if doc, ok := r.NotProbed(); ok {
		ew.printf("\nNot probed; make sure the policy also allows:\n")
		for _, st := range doc.Statement {
			ew.printf("  %s\n", st)
		}
	}
	return ew.err
}

// checkLabel is the check column: the call, and its RAM action when there
// is one.
func checkLabel(res Result) string {
	if res.Action == "" {
		return res.Check
	}
	return res.Check + " (" + res.Action + ")"
}

// errWriter keeps the first write error, so that printing reads plainly.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

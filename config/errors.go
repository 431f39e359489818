package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a pipeline file, at a 1-based line and
// column. Column is 0 when only the line is known (some YAML syntax errors).
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// Error formats the problem as "file:line:column: message", the form
// editors and CI annotators recognise.
func (e Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
}

// Errors is every problem found in a pipeline file, sorted by position.
// Load and Parse return it (as *Errors) whenever the file is not a valid
// pipeline, so a user fixes all problems in one round.
type Errors struct {
	List []Error
}

// Error returns one line per problem.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, x := range e.List {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// errList collects problems while a file is decoded.
type errList struct {
	file string
	list []Error
}

func (l *errList) add(line, col int, format string, args ...any) {
	l.list = append(l.list, Error{File: l.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

// result returns nil when nothing was found, else the sorted *Errors.
func (l *errList) result() error {
	if len(l.list) == 0 {
		return nil
	}
	sort.SliceStable(l.list, func(i, j int) bool {
		a, b := l.list[i], l.list[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &Errors{List: l.list}
}

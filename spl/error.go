package spl

import (
	"fmt"
	"unicode/utf8"
)

// Error is a statement that does not parse, does not type-check or uses
// what the subset does not support. It carries where the problem is.
type Error struct {
	// Offset is the byte offset of the problem in the statement.
	Offset int
	// Line and Column are 1-based; Column counts characters, not bytes.
	Line, Column int
	// Msg says what is wrong, without the position.
	Msg string
}

// Error renders "line L, column C: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// errAt builds an *Error at byte offset off of src.
func errAt(src string, off int, format string, args ...any) *Error {
	off = min(max(off, 0), len(src))
	line, col := 1, 1
	for i := 0; i < off; {
		r, n := utf8.DecodeRuneInString(src[i:])
		i += n
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &Error{Offset: off, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// RowError is a row the statement failed on (a cast that does not
// convert, a division by zero). The service drops such a row and counts it
// in x-log-failedlines; Apply reports it so that callers can do the same.
type RowError struct {
	Msg string
}

func (e *RowError) Error() string { return e.Msg }

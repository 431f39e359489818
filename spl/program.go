package spl

import (
	"strings"
	"unicode/utf8"
)

// Limits of a statement for rule-based consumption.
const (
	// MaxLength is the longest statement accepted, in bytes.
	MaxLength = 10 << 10
	// MaxInstructions is how many pipeline levels a statement may have.
	MaxInstructions = 16
)

// Program is a parsed, type-checked statement. It is immutable and safe
// for concurrent use.
type Program struct {
	src    string
	instrs []instruction
	names  []string
}

// instruction is one "| name …" level of a statement.
type instruction interface {
	// apply runs the instruction on c.row and reports whether the row is
	// kept; a row error is recorded in c.
	apply(c *evalCtx) bool
}

// Parse parses and type-checks an SPL statement. A statement that does not
// parse, does not type-check or uses an instruction or function outside
// the subset yields an *Error with the position of the problem.
func Parse(stmt string) (*Program, error) {
	p, err := parse(stmt)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parse(stmt string) (*Program, *Error) {
	if len(stmt) > MaxLength {
		return nil, errAt(stmt, MaxLength, "the statement is %d bytes long; at most %d are allowed", len(stmt), MaxLength)
	}
	if !utf8.ValidString(stmt) {
		return nil, errAt(stmt, 0, "the statement is not valid UTF-8")
	}
	toks, err := lex(stmt)
	if err != nil {
		return nil, err.(*Error)
	}
	p := &parser{src: stmt, toks: toks}
	first := p.next()
	if !first.is("*") {
		return nil, p.errorf(first.pos, "a statement starts with * (the logstore), as in * | where level = 'ERROR'; found %s", first.describe())
	}
	prog := &Program{src: stmt}
	for {
		t := p.next()
		switch {
		case t.kind == tokEOF:
			return prog, nil
		case t.is(";"):
			if e := p.peek(); e.kind != tokEOF {
				return nil, p.errorf(e.pos, "only one statement is allowed; found %s after ';'", e.describe())
			}
			return prog, nil
		case !t.is("|"):
			return nil, p.errorf(t.pos, "expected '|' before the next instruction, found %s", t.describe())
		}
		if len(prog.instrs) == MaxInstructions {
			return nil, p.errorf(t.pos, "at most %d instructions are allowed in a statement", MaxInstructions)
		}
		in, name, err := p.parseInstruction()
		if err != nil {
			return nil, err
		}
		prog.instrs = append(prog.instrs, in)
		prog.names = append(prog.names, name)
	}
}

// String returns the statement as written.
func (p *Program) String() string { return p.src }

// FilterOnly reports whether the statement only filters (every
// instruction is a where): a kept log is then unchanged, and its encoded
// bytes can be passed on as they are.
func (p *Program) FilterOnly() bool {
	for _, n := range p.names {
		if n != "where" {
			return false
		}
	}
	return true
}

// Apply runs the statement on r, rewriting r.Fields (and r.Time, r.TimeNs
// when extend sets them), and reports whether the row is kept. A row the
// statement fails on (a cast that does not convert, a division by zero)
// is not kept and yields a *RowError.
func (p *Program) Apply(r *Row) (bool, error) {
	// The context lives in the row, so that evaluating allocates nothing.
	r.ctx = evalCtx{row: r}
	c := &r.ctx
	defer func() { r.ctx.row = nil }()
	for _, in := range p.instrs {
		if !in.apply(c) {
			if c.err != nil {
				return false, c.err
			}
			return false, nil
		}
		if c.err != nil {
			return false, c.err
		}
	}
	return true, nil
}

// instructionNames are the instructions of the subset; unsupported lists
// other SPL instructions, named in the error.
var (
	instructionNames = []string{"where", "extend", "project", "project-away", "project-rename", "parse-regexp", "parse-json", "parse-csv"}
	unsupported      = map[string]bool{
		".let": true, "parse-kv": true, "expand-values": true, "pack-fields": true, "log-to-metric": true,
		"metric-to-metric": true, "sort": true, "limit": true, "stats": true, "conv": true, "pack-meta": true,
		"json-extract": true, "to-ip": true, "extract-value": true,
	}
)

// Instructions returns the names of the supported instructions.
func Instructions() []string { return append([]string(nil), instructionNames...) }

// parseInstruction parses one instruction after its '|'.
func (p *parser) parseInstruction() (instruction, string, *Error) {
	t := p.next()
	if t.kind != tokIdent {
		return nil, "", p.errorf(t.pos, "expected an instruction (%s), found %s", strings.Join(instructionNames, ", "), t.describe())
	}
	name := t.text
	// Hyphenated names: project-away, parse-regexp.
	for p.peek().is("-") && !p.peek().spaceBefore && p.peekAt(1).kind == tokIdent && !p.peekAt(1).spaceBefore {
		p.next()
		name += "-" + p.next().text
	}
	lname := strings.ToLower(name)
	opts, err := p.parseOptions()
	if err != nil {
		return nil, "", err
	}
	var in instruction
	switch lname {
	case "where":
		in, err = p.parseWhere(opts)
	case "extend":
		in, err = p.parseExtend(opts)
	case "project":
		in, err = p.parseProject(opts)
	case "project-away":
		in, err = p.parseProjectAway(opts)
	case "project-rename":
		in, err = p.parseProjectRename(opts)
	case "parse-regexp":
		in, err = p.parseRegexp(opts)
	case "parse-json":
		in, err = p.parseJSON(opts)
	case "parse-csv":
		in, err = p.parseCSV(opts)
	default:
		if unsupported[lname] {
			return nil, "", p.errorf(t.pos, "instruction %s is not supported for rule-based consumption here (supported: %s)", name, strings.Join(instructionNames, ", "))
		}
		return nil, "", p.errorf(t.pos, "unknown instruction %s (supported: %s)", name, strings.Join(instructionNames, ", "))
	}
	if err != nil {
		return nil, "", err
	}
	if n := p.peek(); !n.is("|") && !n.is(";") && n.kind != tokEOF {
		return nil, "", p.errorf(n.pos, "unexpected %s after the %s instruction", n.describe(), lname)
	}
	return in, lname, nil
}

// option is a "-name[=value]" parameter of an instruction.
type option struct {
	name  string
	pos   int
	value *token // nil for a switch
	used  bool
}

type options []*option

func (p *parser) parseOptions() (options, *Error) {
	var opts options
	for p.peek().is("-") && p.peekAt(1).kind == tokIdent && !p.peekAt(1).spaceBefore {
		dash := p.next()
		nt := p.next()
		o := &option{name: nt.text, pos: dash.pos}
		for p.peek().is("-") && !p.peek().spaceBefore && p.peekAt(1).kind == tokIdent && !p.peekAt(1).spaceBefore {
			p.next()
			o.name += "-" + p.next().text
		}
		if p.peek().is("=") {
			p.next()
			v := p.next()
			if v.kind != tokString && v.kind != tokInt && v.kind != tokIdent {
				return nil, p.errorf(v.pos, "option -%s needs a value such as '…', found %s", o.name, v.describe())
			}
			o.value = &v
		}
		opts = append(opts, o)
	}
	return opts, nil
}

// take returns the option name (marking it used), or nil.
func (os options) take(name string) *option {
	for _, o := range os {
		if o.name == name {
			o.used = true
			return o
		}
	}
	return nil
}

// rest reports the first option the instruction did not take.
func (os options) rest(p *parser, instr string) *Error {
	for _, o := range os {
		if !o.used {
			return p.errorf(o.pos, "%s has no option -%s", instr, o.name)
		}
	}
	return nil
}

// stringOpt returns a string option's value, or def.
func (p *parser) stringOpt(os options, name, def string) (string, *Error) {
	o := os.take(name)
	if o == nil {
		return def, nil
	}
	if o.value == nil || o.value.kind != tokString {
		return "", p.errorf(o.pos, "option -%s needs a string value: -%s='…'", name, name)
	}
	return o.value.text, nil
}

// switchOpt reports whether a switch option is given.
func (p *parser) switchOpt(os options, name string) (bool, *Error) {
	o := os.take(name)
	if o == nil {
		return false, nil
	}
	if o.value != nil {
		return false, p.errorf(o.pos, "option -%s takes no value", name)
	}
	return true, nil
}

// parseFieldName reads a field name: a bare word or a "quoted name".
func (p *parser) parseFieldName(what string) (string, token, *Error) {
	t := p.next()
	switch {
	case t.kind == tokQIdent:
		return t.text, t, nil
	case t.kind == tokIdent && !isKeyword(t):
		if n := p.peek(); (n.is(":") || n.is(".") || n.is("-")) && !n.spaceBefore {
			return "", t, p.errorf(t.pos, "a field name with special characters must be double-quoted, as in \"%s%s…\"", t.text, n.text)
		}
		return t.text, t, nil
	}
	return "", t, p.errorf(t.pos, "expected %s, found %s", what, t.describe())
}

// writable checks that an instruction may write field name.
func (p *parser) writable(name string, at token, instr string) *Error {
	switch kind, _ := attrOf(name); kind {
	case attrTopic, attrSource, attrTag:
		return p.errorf(at.pos, "%s cannot write %s: it is an attribute of the log group", instr, name)
	}
	return nil
}

package spl

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// where keeps the rows for which cond is true; false and null drop them.
type where struct{ cond expr }

func (p *parser) parseWhere(opts options) (instruction, *Error) {
	if err := opts.rest(p, "where"); err != nil {
		return nil, err
	}
	e, pos, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := e.typ(); t != Boolean && t != Unknown {
		return nil, p.errorf(pos, "where needs a boolean condition, got %s", t)
	}
	return &where{cond: e}, nil
}

func (w *where) apply(c *evalCtx) bool {
	v := w.cond.eval(c)
	return !v.null && v.b
}

// extend sets fields to expressions, all evaluated on the input row. A
// null result removes the field; __time__ and __time_ns_part__ take bigint
// results and set the log's time.
type extend struct {
	names []string
	kinds []int
	exprs []expr
}

func (p *parser) parseExtend(opts options) (instruction, *Error) {
	if err := opts.rest(p, "extend"); err != nil {
		return nil, err
	}
	x := &extend{}
	seen := map[string]bool{}
	for {
		name, nt, err := p.parseFieldName("a field name to assign")
		if err != nil {
			return nil, err
		}
		if err := p.writable(name, nt, "extend"); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, p.errorf(nt.pos, "extend assigns %s twice", name)
		}
		seen[name] = true
		if _, err := p.expectOp("="); err != nil {
			return nil, err
		}
		e, pos, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		kind, _ := attrOf(name)
		if (kind == attrTime || kind == attrTimeNs) && e.typ() != Bigint && e.typ() != Unknown {
			return nil, p.errorf(pos, "%s must be set to a bigint, got %s", name, e.typ())
		}
		x.names = append(x.names, name)
		x.kinds = append(x.kinds, kind)
		x.exprs = append(x.exprs, e)
		if !p.peek().is(",") {
			break
		}
		p.next()
	}
	// The assigned fields keep their expressions' types downstream.
	for i, name := range x.names {
		if x.kinds[i] != attrNone {
			continue
		}
		p.setType(name, x.exprs[i].typ())
	}
	return x, nil
}

// setType records the type of a field for the instructions that follow.
func (p *parser) setType(name string, t Type) {
	if t == Varchar || t == Unknown {
		delete(p.types, name)
		return
	}
	if p.types == nil {
		p.types = map[string]Type{}
	}
	p.types[name] = t
}

func (x *extend) apply(c *evalCtx) bool {
	var buf [8]value
	vals := buf[:0]
	for _, e := range x.exprs {
		vals = append(vals, e.eval(c))
	}
	if c.err != nil {
		return false
	}
	r := c.row
	for i, v := range vals {
		switch x.kinds[i] {
		case attrTime:
			if !v.null {
				r.Time = v.i
			}
		case attrTimeNs:
			if !v.null {
				if v.i < 0 || v.i >= 1e9 {
					c.fail("__time_ns_part__ must be in [0, 999999999], got " + strconv.FormatInt(v.i, 10))
					return false
				}
				r.TimeNs = uint32(v.i)
			}
		default:
			if v.null {
				r.del(x.names[i])
			} else {
				r.set(x.names[i], format(v, x.exprs[i].typ()))
			}
		}
	}
	return true
}

// fieldPattern matches field names exactly, or with * as a wildcard when
// -wildcard is given.
type fieldPattern struct {
	name  string
	parts []string // split on * when wild
	wild  bool
}

func newPattern(name string, wild bool) fieldPattern {
	fp := fieldPattern{name: name}
	if wild && strings.Contains(name, "*") {
		fp.wild, fp.parts = true, strings.Split(name, "*")
	}
	return fp
}

func (fp fieldPattern) match(s string) bool {
	if !fp.wild {
		return s == fp.name
	}
	if !strings.HasPrefix(s, fp.parts[0]) {
		return false
	}
	s = s[len(fp.parts[0]):]
	last := len(fp.parts) - 1
	for _, part := range fp.parts[1:last] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, fp.parts[last])
}

// parsePatterns reads "pattern, pattern, …" (and "out=field" items when
// renames is set).
func (p *parser) parsePatterns(instr string, wild, renames bool) ([]fieldPattern, [][2]string, *Error) {
	var pats []fieldPattern
	var ren [][2]string
	outs := map[string]bool{}
	for {
		name, nt, err := p.parseFieldName("a field name")
		if err != nil {
			return nil, nil, err
		}
		if p.peek().is("=") {
			if !renames {
				return nil, nil, p.errorf(p.peek().pos, "%s takes field names, not renames", instr)
			}
			p.next()
			src, st, err := p.parseFieldName("the field to rename")
			if err != nil {
				return nil, nil, err
			}
			if k, _ := attrOf(name); k != attrNone {
				return nil, nil, p.errorf(nt.pos, "%s cannot rename to %s, a reserved field", instr, name)
			}
			if k, _ := attrOf(src); k != attrNone {
				return nil, nil, p.errorf(st.pos, "%s cannot rename %s, a reserved field", instr, src)
			}
			if outs[name] {
				return nil, nil, p.errorf(nt.pos, "%s renames two fields to %s", instr, name)
			}
			outs[name] = true
			ren = append(ren, [2]string{name, src})
		} else {
			pats = append(pats, newPattern(name, wild))
		}
		if !p.peek().is(",") {
			return pats, ren, nil
		}
		p.next()
	}
}

// project keeps the fields matching its patterns, then adds the renamed
// ones; other fields are dropped (the time fields are always kept).
type project struct {
	pats []fieldPattern
	ren  [][2]string // out, source
}

func (p *parser) parseProject(opts options) (instruction, *Error) {
	wild, err := p.switchOpt(opts, "wildcard")
	if err != nil {
		return nil, err
	}
	if err := opts.rest(p, "project"); err != nil {
		return nil, err
	}
	pats, ren, err := p.parsePatterns("project", wild, true)
	if err != nil {
		return nil, err
	}
	old := p.types
	p.types = nil
	for name, t := range old {
		for _, fp := range pats {
			if fp.match(name) {
				p.setType(name, t)
			}
		}
	}
	for _, rn := range ren {
		p.setType(rn[0], old[rn[1]])
	}
	return &project{pats: pats, ren: ren}, nil
}

func (pr *project) apply(c *evalCtx) bool {
	r := c.row
	out := r.scratch[:0]
	for _, f := range r.Fields {
		for _, fp := range pr.pats {
			if fp.match(f.Key) {
				out = append(out, f)
				break
			}
		}
	}
	for _, rn := range pr.ren {
		if v, ok := r.get(rn[1]); ok {
			replaced := false
			for i := range out {
				if out[i].Key == rn[0] {
					out[i].Value, replaced = v, true
					break
				}
			}
			if !replaced {
				out = append(out, Field{Key: rn[0], Value: v})
			}
		}
	}
	r.scratch = r.Fields[:0]
	r.Fields = out
	return true
}

// projectAway drops the fields matching its patterns.
type projectAway struct{ pats []fieldPattern }

func (p *parser) parseProjectAway(opts options) (instruction, *Error) {
	wild, err := p.switchOpt(opts, "wildcard")
	if err != nil {
		return nil, err
	}
	if err := opts.rest(p, "project-away"); err != nil {
		return nil, err
	}
	pats, _, err := p.parsePatterns("project-away", wild, false)
	if err != nil {
		return nil, err
	}
	for name := range p.types {
		for _, fp := range pats {
			if fp.match(name) {
				delete(p.types, name)
			}
		}
	}
	return &projectAway{pats: pats}, nil
}

func (pa *projectAway) apply(c *evalCtx) bool {
	r := c.row
	out := r.Fields[:0]
	for _, f := range r.Fields {
		keep := true
		for _, fp := range pa.pats {
			if fp.match(f.Key) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	clear(r.Fields[len(out):])
	r.Fields = out
	return true
}

// projectRename renames fields in place; a field already named like the
// target is replaced.
type projectRename struct{ ren [][2]string }

func (p *parser) parseProjectRename(opts options) (instruction, *Error) {
	if err := opts.rest(p, "project-rename"); err != nil {
		return nil, err
	}
	start := p.peek()
	pats, ren, err := p.parsePatterns("project-rename", false, true)
	if err != nil {
		return nil, err
	}
	if len(pats) > 0 {
		return nil, p.errorf(start.pos, "project-rename takes renames: new_name=field")
	}
	for _, rn := range ren {
		t := p.types[rn[1]]
		delete(p.types, rn[1])
		p.setType(rn[0], t)
	}
	return &projectRename{ren: ren}, nil
}

func (pr *projectRename) apply(c *evalCtx) bool {
	r := c.row
	for _, rn := range pr.ren {
		src := -1
		for i := range r.Fields {
			if r.Fields[i].Key == rn[1] {
				src = i
				break
			}
		}
		if src < 0 || rn[0] == rn[1] {
			continue
		}
		r.Fields[src].Key = rn[0]
		out := r.Fields[:0]
		for i, f := range r.Fields {
			if f.Key != rn[0] || i == src {
				out = append(out, f)
			}
		}
		clear(r.Fields[len(out):])
		r.Fields = out
	}
	return true
}

// extraction writes extracted values: a value overwrites the field of the
// same name, the time fields are never written.
func writeExtracted(r *Row, key, val string) {
	if k, _ := attrOf(key); k == attrTime || k == attrTimeNs {
		return
	}
	r.set(key, val)
}

// parseRegexp extracts a field's regexp groups into fields. A missing
// field, or a value the pattern does not match, leaves the row unchanged.
type parseRegexp struct {
	field string
	re    *regexp.Regexp
	outs  []string // per group, 1-based groups at outs[i-1]
}

func (p *parser) parseRegexp(opts options) (instruction, *Error) {
	if err := opts.rest(p, "parse-regexp"); err != nil {
		return nil, err
	}
	field, _, err := p.parseFieldName("the field to parse")
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp(","); err != nil {
		return nil, err
	}
	pt := p.next()
	if pt.kind != tokString {
		return nil, p.errorf(pt.pos, "parse-regexp needs a pattern string, found %s", pt.describe())
	}
	re, rerr := regexp.Compile(pt.text)
	if rerr != nil {
		return nil, p.errorf(pt.pos, "bad regular expression: %s", strings.TrimPrefix(rerr.Error(), "error parsing regexp: "))
	}
	x := &parseRegexp{field: field, re: re}
	if p.acceptWord("as") {
		at := p.peek()
		outs, err := p.parseOutputs("parse-regexp")
		if err != nil {
			return nil, err
		}
		if len(outs) != re.NumSubexp() {
			return nil, p.errorf(at.pos, "the pattern has %d capturing groups but %d output fields are named", re.NumSubexp(), len(outs))
		}
		x.outs = outs
	} else {
		names := re.SubexpNames()[1:]
		for _, n := range names {
			if n == "" {
				return nil, p.errorf(pt.pos, "name the output fields (as a, b, …) or name every group of the pattern ((?P<a>…))")
			}
		}
		if len(names) == 0 {
			return nil, p.errorf(pt.pos, "the pattern has no capturing group to extract")
		}
		x.outs = names
	}
	for _, o := range x.outs {
		delete(p.types, o)
	}
	return x, nil
}

// parseOutputs reads "a, b, …" after as.
func (p *parser) parseOutputs(instr string) ([]string, *Error) {
	var outs []string
	seen := map[string]bool{}
	for {
		name, nt, err := p.parseFieldName("an output field name")
		if err != nil {
			return nil, err
		}
		if err := p.writable(name, nt, instr); err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, p.errorf(nt.pos, "%s names the output field %s twice", instr, name)
		}
		seen[name] = true
		outs = append(outs, name)
		if !p.peek().is(",") {
			return outs, nil
		}
		p.next()
	}
}

func (x *parseRegexp) apply(c *evalCtx) bool {
	r := c.row
	v, ok := r.get(x.field)
	if !ok {
		return true
	}
	m := x.re.FindStringSubmatchIndex(v)
	if m == nil {
		return true
	}
	for g, out := range x.outs {
		if a, b := m[2*(g+1)], m[2*(g+1)+1]; a >= 0 {
			writeExtracted(r, out, v[a:b])
		}
	}
	return true
}

// parseJSON extracts the first-level members of a field's JSON object (or
// of the object at -path) into fields named -prefix + key.
type parseJSON struct {
	field  string
	path   []pathStep
	prefix string
}

func (p *parser) parseJSON(opts options) (instruction, *Error) {
	ps, err := p.stringOpt(opts, "path", "")
	if err != nil {
		return nil, err
	}
	prefix, err := p.stringOpt(opts, "prefix", "")
	if err != nil {
		return nil, err
	}
	if err := opts.rest(p, "parse-json"); err != nil {
		return nil, err
	}
	x := &parseJSON{prefix: prefix}
	if ps != "" {
		path, perr := parseJSONPath(ps)
		if perr != "" {
			return nil, p.errorf(opts.take("path").pos, "bad JSON path '%s': %s", ps, perr)
		}
		x.path = path
	}
	if x.field, _, err = p.parseFieldName("the field to parse"); err != nil {
		return nil, err
	}
	return x, nil
}

func (x *parseJSON) apply(c *evalCtx) bool {
	r := c.row
	v, ok := r.get(x.field)
	if !ok {
		return true
	}
	doc := json.RawMessage(v)
	if len(x.path) > 0 {
		if doc, ok = jsonAt(v, x.path); !ok {
			return true
		}
	}
	jsonMembers(doc, func(key string, raw json.RawMessage) {
		if s, ok := jsonScalar(raw); ok {
			writeExtracted(r, x.prefix+key, s)
		} else if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
			writeExtracted(r, x.prefix+key, compactJSON(raw))
		}
	})
	return true
}

// parseCSV splits a field's CSV value into the named fields. Without
// -strict, extra values are ignored and missing ones are not written; with
// it, a row whose value count differs is left unchanged.
type parseCSV struct {
	field  string
	delim  string
	quote  byte
	strict bool
	outs   []string
}

func (p *parser) parseCSV(opts options) (instruction, *Error) {
	x := &parseCSV{delim: ",", quote: '"'}
	if o := opts.take("delim"); o != nil {
		if o.value == nil || o.value.kind != tokString {
			return nil, p.errorf(o.pos, "option -delim needs a string value: -delim='|'")
		}
		d, ok := unescapeChars(o.value.text)
		if !ok || d == "" {
			return nil, p.errorf(o.value.pos, "-delim must be a non-empty string")
		}
		x.delim = d
	}
	if o := opts.take("quote"); o != nil {
		if o.value == nil || o.value.kind != tokString {
			return nil, p.errorf(o.pos, "option -quote needs a character value: -quote='\"'")
		}
		q, ok := unescapeChars(o.value.text)
		if !ok || len(q) != 1 {
			return nil, p.errorf(o.value.pos, "-quote must be one ASCII character")
		}
		x.quote = q[0]
	}
	var err *Error
	if x.strict, err = p.switchOpt(opts, "strict"); err != nil {
		return nil, err
	}
	if err := opts.rest(p, "parse-csv"); err != nil {
		return nil, err
	}
	if x.field, _, err = p.parseFieldName("the field to parse"); err != nil {
		return nil, err
	}
	if !p.acceptWord("as") {
		return nil, p.errorf(p.peek().pos, "parse-csv needs its output fields: as a, b, …")
	}
	if x.outs, err = p.parseOutputs("parse-csv"); err != nil {
		return nil, err
	}
	for _, o := range x.outs {
		delete(p.types, o)
	}
	return x, nil
}

func (x *parseCSV) apply(c *evalCtx) bool {
	r := c.row
	v, ok := r.get(x.field)
	if !ok {
		return true
	}
	var buf [16]string
	vals := splitCSV(v, x.delim, x.quote, buf[:0])
	if x.strict && len(vals) != len(x.outs) {
		return true
	}
	for i, out := range x.outs {
		if i < len(vals) {
			writeExtracted(r, out, vals[i])
		}
	}
	return true
}

// splitCSV splits one CSV line: values separated by delim, optionally
// quoted with quote (a doubled quote inside is one quote character).
func splitCSV(s, delim string, quote byte, dst []string) []string {
	for {
		if len(s) > 0 && s[0] == quote {
			var b strings.Builder
			i := 1
			for i < len(s) {
				if s[i] == quote {
					if i+1 < len(s) && s[i+1] == quote {
						b.WriteByte(quote)
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			// Anything between the closing quote and the delimiter is kept.
			j := strings.Index(s[i:], delim)
			if j < 0 {
				b.WriteString(s[i:])
				return append(dst, b.String())
			}
			b.WriteString(s[i : i+j])
			dst = append(dst, b.String())
			s = s[i+j+len(delim):]
			continue
		}
		j := strings.Index(s, delim)
		if j < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:j])
		s = s[j+len(delim):]
	}
}

// unescapeChars decodes the escapes of a Char parameter: \t \n \r \\ \'
// \xHH and octal \NNN.
func unescapeChars(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch c := s[i]; {
		case c == 't':
			b.WriteByte('\t')
		case c == 'n':
			b.WriteByte('\n')
		case c == 'r':
			b.WriteByte('\r')
		case c == '\\' || c == '\'' || c == '"':
			b.WriteByte(c)
		case c == 'x':
			if i+3 > len(s) {
				return "", false
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(n))
			i += 2
		case c >= '0' && c <= '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, err := strconv.ParseUint(s[i:j], 8, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(n))
			i = j - 1
		default:
			return "", false
		}
	}
	out := b.String()
	return out, utf8.ValidString(out)
}

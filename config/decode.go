package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder fills the configuration structs from a yaml.Node tree, driven by
// the field specs, collecting every problem with its position instead of
// stopping at the first.
type decoder struct {
	// owner is the key node of the value being decoded, where problems with
	// the value as a whole (a missing required key) are reported.
	owner   *yaml.Node
	errs    *errList
	lookup  func(string) (string, bool)
	baseDir string
	src     []byte // the file, to place problems inside a scalar
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.add(n.Line, n.Column, format, args...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// prefix renders "path: " for messages, or nothing at the top level.
func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return "a scalar"
}

// resolve follows aliases so anchors can be reused.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// show quotes a value for a message, unless it belongs to a secret field.
func show(f *fieldSpec, v string) string {
	if f != nil && isSecret(f.typ) {
		return redacted
	}
	return strconv.Quote(v)
}

// scalarText returns the interpolated text of a scalar node; ok is false
// when a problem was reported.
func (d *decoder) scalarText(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%sexpected %s, got %s", prefix(path), want, describe(n))
		return "", false
	}
	s, err := interpolate(n.Value, d.lookup)
	if err != nil {
		d.errorf(n, "%s%v", prefix(path), err)
		return "", false
	}
	return s, true
}

// value decodes node n into v. f is the field being decoded (nil for list
// items and map values of plain types); at is where to report problems
// that have no node of their own.
func (d *decoder) value(n *yaml.Node, v reflect.Value, f *fieldSpec, path string) {
	n = resolve(n)
	if v.CanAddr() {
		if sc, ok := v.Addr().Interface().(scalar); ok {
			if isNull(n) {
				return
			}
			s, ok := d.scalarText(n, path, "a "+sc.kind())
			if !ok {
				return
			}
			if err := sc.parse(s); err != nil {
				if f != nil && isSecret(f.typ) {
					d.errorf(n, "%sinvalid value %s", prefix(path), redacted)
				} else {
					d.errorf(n, "%s%v", prefix(path), err)
				}
				return
			}
			d.checkField(n, v, f, path, s)
			return
		}
	}
	switch v.Kind() {
	case reflect.String:
		if isNull(n) {
			return
		}
		s, ok := d.scalarText(n, path, "a string")
		if !ok {
			return
		}
		v.SetString(s)
		d.checkField(n, v, f, path, s)
	case reflect.Bool:
		s, ok := d.scalarText(n, path, "true or false")
		if !ok {
			return
		}
		switch s {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.errorf(n, "%sexpected true or false, got %s", prefix(path), show(f, s))
		}
	case reflect.Int, reflect.Int64:
		s, ok := d.scalarText(n, path, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil {
			d.errorf(n, "%sexpected an integer, got %s", prefix(path), show(f, s))
			return
		}
		v.SetInt(i)
		d.checkField(n, v, f, path, s)
	case reflect.Slice:
		d.list(n, v, f, path)
	case reflect.Map:
		d.stringMap(n, v, path)
	case reflect.Pointer:
		if isNull(n) && v.Type().Elem().Kind() != reflect.Struct {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.value(n, p.Elem(), f, path)
		v.Set(p)
	case reflect.Struct:
		d.structure(n, v, path)
	default:
		panic(fmt.Sprintf("config: unsupported field type %s at %s", v.Type(), path))
	}
}

func (d *decoder) list(n *yaml.Node, v reflect.Value, f *fieldSpec, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%sexpected a list, got %s", prefix(path), describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.owner = resolve(item)
		d.value(item, out.Index(i), nil, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
	if f != nil && f.format != "" && v.Type().Elem().Kind() == reflect.String {
		for i, item := range n.Content {
			d.format(resolve(item), f.format, out.Index(i).String(), fmt.Sprintf("%s[%d]", path, i), out.Index(i))
		}
	}
}

func (d *decoder) stringMap(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%sexpected a mapping of names to strings, got %s", prefix(path), describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], resolve(n.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, "%sduplicate key %q (first at line %d)", prefix(path), k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if val.Kind != yaml.ScalarNode {
			d.errorf(val, "%sexpected a string, got %s", prefix(join(path, k.Value)), describe(val))
			continue
		}
		s, ok := d.scalarText(val, join(path, k.Value), "a string")
		if !ok {
			continue
		}
		if isNull(val) {
			s = ""
		}
		m.SetMapIndex(reflect.ValueOf(k.Value), reflect.ValueOf(s))
	}
	v.Set(m)
}

// keyed returns the mapping's keys and values by name, reporting
// duplicates.
func (d *decoder) keyed(n *yaml.Node, path string) (keys, vals map[string]*yaml.Node, order []string) {
	keys, vals = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if first, dup := keys[k.Value]; dup {
			d.errorf(k, "%sduplicate key %q (first at line %d)", prefix(path), k.Value, first.Line)
			continue
		}
		keys[k.Value], vals[k.Value] = k, val
		order = append(order, k.Value)
	}
	return keys, vals, order
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	spec := specOf(v.Type())
	owner := d.owner
	if (owner == nil || owner.Line == 0) && n != nil {
		owner = n
	}
	if owner == nil {
		owner = &yaml.Node{}
	}
	if !isNull(n) && n.Kind != yaml.MappingNode {
		d.errorf(n, "%sexpected a mapping, got %s", prefix(path), describe(n))
		return
	}
	if n == nil {
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: owner.Line, Column: owner.Column}
	}
	keys, vals := map[string]*yaml.Node{}, map[string]*yaml.Node{}
	var order []string
	if n.Kind == yaml.MappingNode {
		keys, vals, order = d.keyed(n, path)
	}
	for _, k := range order {
		if _, ok := spec.byName[k]; !ok {
			d.unknownKey(keys[k], spec, path)
		}
	}

	if spec.union {
		d.oneOf(owner, v, spec, keys, vals, order, path)
		return
	}
	for _, f := range spec.fields {
		fv := v.FieldByIndex(f.index)
		if val, ok := vals[f.name]; ok {
			d.owner = keys[f.name]
			before := len(d.errs.list)
			d.value(val, fv, f, join(path, f.name))
			if f.required && fv.IsZero() && len(d.errs.list) == before {
				at := resolve(val)
				if isNull(at) {
					at = keys[f.name]
				}
				d.errorf(at, "%smust not be empty", prefix(join(path, f.name)))
			}
			continue
		}
		d.owner = owner
		switch {
		case f.required:
			d.errorf(owner, "%smissing required key %q", prefix(path), f.name)
		case f.hasDef:
			node := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.def, Line: owner.Line, Column: owner.Column}
			saved := d.lookup
			d.lookup = func(string) (string, bool) { return "", false }
			d.value(node, fv, f, join(path, f.name))
			d.lookup = saved
		case fv.Kind() == reflect.Struct:
			// A nested section that is absent still gets its defaults.
			d.value(nil, fv, f, join(path, f.name))
		}
	}
	d.owner = owner
	if c, ok := v.Addr().Interface().(checker); ok {
		c.check(&checkCtx{d: d, node: owner, keys: keys, vals: vals, path: path})
	}
}

// oneOf decodes a union: exactly one kind key with its settings.
func (d *decoder) oneOf(n *yaml.Node, v reflect.Value, spec *structSpec, keys, vals map[string]*yaml.Node, order []string, path string) {
	var given []string
	for _, k := range order {
		if _, ok := spec.byName[k]; ok {
			given = append(given, k)
		}
	}
	switch {
	case len(given) == 0 && len(order) == 0:
		d.errorf(n, "%sexpected one of %s", prefix(path), strings.Join(spec.names(), ", "))
		return
	case len(given) == 0:
		return // the unknown kind was reported
	case len(given) > 1:
		d.errorf(keys[given[1]], "%sonly one of %s may be given, found %s", prefix(path), strings.Join(spec.names(), ", "), strings.Join(given, " and "))
	}
	f := spec.byName[given[0]]
	d.owner = keys[given[0]]
	d.value(vals[given[0]], v.FieldByIndex(f.index), f, join(path, f.name))
	d.owner = n
	if c, ok := v.Addr().Interface().(checker); ok {
		c.check(&checkCtx{d: d, node: n, keys: keys, vals: vals, path: path})
	}
}

func (d *decoder) unknownKey(k *yaml.Node, spec *structSpec, path string) {
	what := "key"
	if spec.union {
		what = "kind"
	}
	where := ""
	if path != "" {
		where = " in " + path
	}
	if near := nearest(k.Value, spec.names()); near != "" {
		d.errorf(k, "unknown %s %q%s; did you mean %q?", what, k.Value, where, near)
		return
	}
	d.errorf(k, "unknown %s %q%s; expected one of %s", what, k.Value, where, strings.Join(spec.names(), ", "))
}

// checkField applies the enum, range and format rules of f to a decoded
// value.
func (d *decoder) checkField(n *yaml.Node, v reflect.Value, f *fieldSpec, path, text string) {
	if f == nil {
		return
	}
	if len(f.enum) > 0 && !contains(f.enum, text) {
		msg := fmt.Sprintf("%smust be one of %s; got %s", prefix(path), strings.Join(f.enum, ", "), show(f, text))
		if near := nearest(text, f.enum); near != "" && !isSecret(f.typ) {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		d.errorf(n, "%s", msg)
		return
	}
	if f.min != "" || f.max != "" {
		d.checkRange(n, v, f, path)
	}
	if f.format != "" {
		d.format(n, f.format, text, path, v)
	}
}

func (d *decoder) checkRange(n *yaml.Node, v reflect.Value, f *fieldSpec, path string) {
	bound := func(s string) (int64, bool) {
		if s == "" {
			return 0, false
		}
		b := reflect.New(v.Type())
		sub := &decoder{errs: &errList{}, lookup: d.lookup}
		sub.value(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}, b.Elem(), nil, "")
		if len(sub.errs.list) > 0 {
			panic(fmt.Sprintf("config: bad bound %q for %s", s, path))
		}
		return b.Elem().Int(), true
	}
	got := v.Int()
	lo, hasLo := bound(f.min)
	hi, hasHi := bound(f.max)
	render := func(x int64) string {
		switch v.Interface().(type) {
		case Duration:
			return Duration(x).String()
		case Size:
			return Size(x).String()
		}
		return strconv.FormatInt(x, 10)
	}
	switch {
	case hasLo && hasHi && (got < lo || got > hi):
		d.errorf(n, "%smust be between %s and %s, got %s", prefix(path), render(lo), render(hi), render(got))
	case hasLo && got < lo:
		d.errorf(n, "%smust be at least %s, got %s", prefix(path), render(lo), render(got))
	case hasHi && got > hi:
		d.errorf(n, "%smust be at most %s, got %s", prefix(path), render(hi), render(got))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nearest returns the candidate within a small edit distance of s, if any.
func nearest(s string, candidates []string) string {
	best, bestD := "", 3
	if len(s) <= 3 {
		bestD = 2
	}
	for _, c := range candidates {
		if dist := editDistance(s, c); dist < bestD {
			best, bestD = c, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkCtx gives a struct's check method the nodes it was decoded from, so
// rules that span fields report at the right line.
type checkCtx struct {
	d    *decoder
	node *yaml.Node
	keys map[string]*yaml.Node
	vals map[string]*yaml.Node
	path string
}

// has reports whether key was written in the file.
func (c *checkCtx) has(key string) bool { _, ok := c.keys[key]; return ok }

// at returns the node to report a problem with key at: its value, or the
// mapping itself when the key is absent.
func (c *checkCtx) at(key string) *yaml.Node {
	if v, ok := c.vals[key]; ok {
		return resolve(v)
	}
	return c.node
}

// failed reports whether a problem was already reported at key's value.
func (c *checkCtx) failed(key string) bool {
	v, ok := c.vals[key]
	if !ok {
		return false
	}
	v = resolve(v)
	for _, e := range c.d.errs.list {
		if e.Line == v.Line && e.Column == v.Column {
			return true
		}
	}
	return false
}

// ok reports whether none of keys had a problem already, so rules that
// compare fields do not pile a second error onto a bad value.
func (c *checkCtx) ok(keys ...string) bool {
	for _, k := range keys {
		if c.failed(k) {
			return false
		}
	}
	return true
}

// errorf reports a problem with key (its value's position).
func (c *checkCtx) errorf(key, format string, args ...any) {
	c.d.errorf(c.at(key), "%s"+format, append([]any{prefix(join(c.path, key))}, args...)...)
}

// item returns the mapping node of list element i under key, or nil.
func (c *checkCtx) item(key string, i int) *yaml.Node {
	n := resolve(c.vals[key])
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return resolve(n.Content[i])
}

// child returns the value node of key inside mapping n, or n itself.
func child(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return resolve(n.Content[i+1])
			}
		}
	}
	return n
}

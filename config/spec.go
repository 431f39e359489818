package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// The configuration structs are the single spec of the file format. Each
// field's tags say everything the decoder, the validator and the reference
// documentation need:
//
//	yaml:"name"          the key (",inline" flattens an embedded struct)
//	default:"text"       the value when the key is absent, in file syntax
//	defaultdoc:"text"    how to describe a default computed at load time
//	required:"true"      the key must be present
//	enum:"a|b|c"         the allowed values
//	min:"x" max:"y"      inclusive range (integers, durations, sizes)
//	format:"name"        an extra syntax check (see formats)
//	doc:"text"           the meaning, for the reference documentation
//	flink:"NAME"         the Flink log connector's equivalent option
//
// A type whose pointer implements union holds one pointer field per kind,
// of which exactly one must be given.

// union marks a struct that holds exactly one of its fields.
type union interface{ isUnion() }

// checker is implemented by structs with rules that span fields.
type checker interface{ check(c *checkCtx) }

type fieldSpec struct {
	name       string
	index      []int
	typ        reflect.Type
	def        string
	hasDef     bool
	defDoc     string
	required   bool
	enum       []string
	min, max   string
	format     string
	doc        string
	flink      string
	omitEmpty  bool
	fromInline bool
}

type structSpec struct {
	fields []*fieldSpec
	byName map[string]*fieldSpec
	union  bool
}

func (s *structSpec) names() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.name
	}
	return out
}

var (
	specMu    sync.Mutex
	specCache = map[reflect.Type]*structSpec{}
	unionType = reflect.TypeFor[union]()
	checkType = reflect.TypeFor[checker]()
	scalarTyp = reflect.TypeFor[scalar]()
)

// specOf returns the field specs of a struct type, in declaration order.
func specOf(t reflect.Type) *structSpec {
	specMu.Lock()
	defer specMu.Unlock()
	if s, ok := specCache[t]; ok {
		return s
	}
	s := &structSpec{byName: map[string]*fieldSpec{}, union: reflect.PointerTo(t).Implements(unionType)}
	collect(s, t, nil)
	specCache[t] = s
	return s
}

func collect(s *structSpec, t reflect.Type, prefix []int) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("yaml")
		if !ok || tag == "-" || !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := append(append([]int(nil), prefix...), i)
		if strings.Contains(opts, "inline") {
			collect(s, sf.Type, index)
			continue
		}
		f := &fieldSpec{
			name:      name,
			index:     index,
			typ:       sf.Type,
			defDoc:    sf.Tag.Get("defaultdoc"),
			required:  sf.Tag.Get("required") == "true",
			min:       sf.Tag.Get("min"),
			max:       sf.Tag.Get("max"),
			format:    sf.Tag.Get("format"),
			doc:       sf.Tag.Get("doc"),
			flink:     sf.Tag.Get("flink"),
			omitEmpty: strings.Contains(opts, "omitempty"),
		}
		f.fromInline = len(prefix) > 0
		f.def, f.hasDef = sf.Tag.Lookup("default")
		if e := sf.Tag.Get("enum"); e != "" {
			f.enum = strings.Split(e, "|")
		}
		if _, dup := s.byName[name]; dup {
			panic(fmt.Sprintf("config: duplicate key %q in %s", name, t))
		}
		s.fields = append(s.fields, f)
		s.byName[name] = f
	}
}

// isSecret reports whether values of t must never be shown.
func isSecret(t reflect.Type) bool { return t == reflect.TypeFor[Secret]() }

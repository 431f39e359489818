package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Markdown returns the reference documentation of the pipeline file,
// generated from the same spec that drives decoding, so the two cannot
// drift. docs/configuration.md holds its output.
func Markdown() string {
	var b strings.Builder
	b.WriteString(docIntro)
	g := docGen{b: &b, seen: map[reflect.Type]string{}}
	g.section(reflect.TypeFor[Pipeline](), "", "")
	return b.String()
}

const docIntro = `# Pipeline configuration reference

<!-- Generated from the config package by
     go test ./config -run TestConfigurationDoc -update
     Do not edit by hand. -->

A pipeline is one YAML file, checked with ` + "`slspipe validate pipeline.yaml`" + ` and run with
` + "`slspipe run pipeline.yaml`" + `. ` + "`pipeline.yaml.example`" + ` at the repository root is a commented
starting point.

## Syntax

- **Environment variables.** Any value may contain ` + "`${VAR}`" + ` or ` + "`${VAR:default}`" + `; the default applies
  when ` + "`VAR`" + ` is unset or empty. ` + "`$$`" + ` is a literal ` + "`$`" + `. An unset variable without a default is an
  error.
- **Durations** are Go durations: ` + "`100ms`, `5s`, `2m`, `1h30m`" + `.
- **Sizes** are bytes: a plain integer, or a number with a unit: ` + "`B`, `KB`, `MB`, `GB`, `TB`" + ` (powers of
  1000) or ` + "`KiB`, `MiB`, `GiB`, `TiB`" + ` (powers of 1024), e.g. ` + "`64MiB`, `3MB`" + `.
- **Times** are unix seconds or RFC 3339 (` + "`2026-01-02T15:04:05Z`" + `).
- **Paths** are relative to the directory of the pipeline file.
- **Secrets** (type *secret string*) are never printed: ` + "`validate`" + `, logs and errors show ` + "`<redacted>`" + `.
  Write them as ` + "`${VAR}`" + ` rather than in the file. The user information of a URL
  (` + "`nats://user:password@host`" + `) is shown as ` + "`<redacted>`" + ` too.
- **Kinds.** ` + "`source`, `sink` and `dead_letter`" + ` hold exactly one kind key (` + "`sls:`, `nats:`" + `, …) whose
  value holds that kind's settings.
- **Flink names.** Where the Flink log connector has an equivalent option, its name is given, so a
  Flink job's properties translate key by key (milliseconds become durations).
- **Strictness.** Unknown keys, duplicate keys, wrong types and out-of-range values are errors; every
  problem is reported at once as ` + "`file:line:column: message`" + `.
`

type docGen struct {
	b    *strings.Builder
	seen map[reflect.Type]string
}

// section documents struct type t found at path, then its nested sections.
func (g *docGen) section(t reflect.Type, path, doc string) {
	spec := specOf(t)
	g.seen[t] = path
	title := "Top level"
	if path != "" {
		title = "`" + path + "`"
	}
	fmt.Fprintf(g.b, "\n## %s\n\n", title)
	if doc != "" {
		fmt.Fprintf(g.b, "%s\n\n", doc)
	}
	if spec.union {
		names := make([]string, len(spec.fields))
		for i, f := range spec.fields {
			names[i] = "`" + f.name + "`"
		}
		fmt.Fprintf(g.b, "Exactly one of %s.\n\n", strings.Join(names, ", "))
	}
	if len(spec.fields) == 0 {
		g.b.WriteString("No settings: write `{}`.\n")
		return
	}
	g.b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	type nested struct {
		t    reflect.Type
		path string
		doc  string
	}
	var later []nested
	for _, f := range spec.fields {
		st := structOf(f.typ)
		desc := fieldDoc(f)
		if st != nil {
			p := join(path, f.name)
			if f.typ.Kind() == reflect.Slice {
				p += "[]"
			}
			if prev, ok := g.seen[st]; ok && prev != p {
				desc += fmt.Sprintf(" Same keys as `%s`.", prev)
			} else {
				desc += fmt.Sprintf(" See `%s`.", p)
				g.seen[st] = p
				later = append(later, nested{st, p, f.doc})
			}
		}
		fmt.Fprintf(g.b, "| `%s` | %s | %s | %s |\n", f.name, typeName(f.typ), defaultDoc(f), cell(desc))
	}
	for _, n := range later {
		g.section(n.t, n.path, n.doc)
	}
}

// structOf returns the struct type a field holds, if it is a section
// rather than a value.
func structOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(scalarTyp) {
		return nil
	}
	return t
}

func typeName(t reflect.Type) string {
	if sc, ok := reflect.New(t).Interface().(scalar); ok {
		return sc.kind()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Map:
		return "mapping of strings"
	case reflect.Slice:
		if structOf(t) != nil {
			return "list of mappings"
		}
		return "list of " + typeName(t.Elem()) + "s"
	}
	return "mapping"
}

func defaultDoc(f *fieldSpec) string {
	switch {
	case f.required:
		return "**required**"
	case f.hasDef && f.def == "":
		return `""`
	case f.hasDef:
		return "`" + f.def + "`"
	case f.defDoc != "":
		return "*" + cell(f.defDoc) + "*"
	}
	return ""
}

func fieldDoc(f *fieldSpec) string {
	parts := []string{f.doc}
	if len(f.enum) > 0 {
		parts = append(parts, "One of `"+strings.Join(f.enum, "`, `")+"`.")
	}
	switch {
	case f.min != "" && f.max != "":
		parts = append(parts, fmt.Sprintf("From %s to %s.", f.min, f.max))
	case f.min != "":
		parts = append(parts, fmt.Sprintf("At least %s.", f.min))
	case f.max != "":
		parts = append(parts, fmt.Sprintf("At most %s.", f.max))
	}
	if d, ok := formatDocs[f.format]; ok {
		parts = append(parts, "Format: "+d+".")
	}
	if f.flink != "" {
		parts = append(parts, "Flink connector: `"+f.flink+"`.")
	}
	return strings.Join(parts, " ")
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/slspipe/slspipe/spl"
)

func splFunctions() []string {
	var out []string
	for _, f := range spl.Functions() {
		out = append(out, "`"+f+"`")
	}
	return out
}

// Markdown returns the reference documentation of the pipeline file,
// generated from the same spec that drives decoding, so the two cannot
// drift. docs/configuration.md holds its output.
func Markdown() string {
	var b strings.Builder
	b.WriteString(docIntro)
	g := docGen{b: &b, seen: map[reflect.Type]string{}}
	g.section(reflect.TypeFor[Pipeline](), "", "")
	b.WriteString(queryDoc())
	return b.String()
}

// queryDoc documents source.sls.query: the SPL subset slspipe checks and
// the emulator serves.
func queryDoc() string {
	return `
## Rule-based consumption (` + "`source.sls.query`" + `)

With ` + "`query`" + ` set, every pull carries the statement (` + "`query`" + ` and ` + "`pullMode=scan_on_stream`" + `, as
the SDK's ` + "`PullLogsWithQuery`" + ` sends them) and SLS answers only the logs and fields it keeps, which
cuts network, decoding and module work when a pipeline keeps a small part of a logstore. Positions,
splits and merges, consumer groups, ` + "`stop_time`" + ` and checkpoints work exactly as without it: a pull
whose groups are all filtered out still moves the cursor, and it is committed.

The statement is parsed and type-checked when the file is loaded (` + "`slspipe validate`" + ` reports a
problem at its ` + "`file:line:column`" + ` inside the YAML), ` + "`slspipe check`" + ` runs it once against the
endpoint, ` + "`slspipe test pipeline.yaml`" + ` applies it to the sample records before the steps, and
` + "`slspipe dev`" + ` serves it from the local emulator. A statement the service refuses stops the pipeline
before anything is committed. Quote it in YAML (it starts with ` + "`*`" + `, which YAML reads as an alias),
or write it as a block (` + "`query: |`" + `).

Supported subset (what slspipe checks locally and its emulator serves):

- **Statement:** ` + "`* | instruction | instruction …`" + `, at most 16 instructions and 10 KiB, an optional
  trailing ` + "`;`" + `, ` + "`--`" + ` comments.
- **Instructions:** ` + "`where <condition>`" + `; ` + "`extend f = <expr>, …`" + ` (all evaluated on the input log; a null result
  removes the field); ` + "`project [-wildcard] f, out = f, …`" + ` (keeps the fields named, then adds the renamed
  ones); ` + "`project-away [-wildcard] f, …`" + `; ` + "`project-rename out = f, …`" + `; ` + "`parse-regexp f, '<RE2>' [as a, b, …]`" + `
  (without ` + "`as`" + `, every group must be named); ` + "`parse-json [-path='$.a'] [-prefix='p_'] f`" + ` (first-level
  members; strings unquoted, numbers and booleans as written, objects and arrays as compact JSON, nulls
  skipped); ` + "`parse-csv [-delim=','] [-quote='\"'] [-strict] f as a, b, …`" + ` (without ` + "`-strict`" + ` extra values are
  ignored and missing ones not written; with it a log whose count differs is left as it is). A parse
  instruction leaves a log unchanged when its field is missing or does not match; extracted values
  overwrite fields of the same name.
- **Expressions:** string literals ` + "`'…'`" + ` (` + "`''`" + ` for a quote), integers, decimals, ` + "`true`" + `, ` + "`false`" + `, ` + "`null`" + `;
  fields by name, or ` + "`\"double-quoted\"`" + ` when they hold other characters (` + "`\"__tag__:host\"`" + `);
  ` + "`= <> != < <= > >=`" + `, ` + "`and`" + ` / ` + "`or`" + ` / ` + "`not`" + ` (three-valued), ` + "`is [not] null`" + `, ` + "`[not] between`" + `, ` + "`[not] in (…)`" + `,
  ` + "`[not] like '…' [escape 'c']`" + `, ` + "`+ - * / %`" + `, ` + "`||`" + `, ` + "`cast(x as t)`" + ` and ` + "`try_cast`" + ` to varchar, bigint, double,
  boolean, ` + "`case when … then … else … end`" + `.
- **Functions:** ` + strings.Join(splFunctions(), ", ") + `.

Semantics where the service's documentation is silent, as slspipe implements them:

- Every log field is **varchar**; comparing or computing a varchar with a number is a type error (as in
  SLS's SQL): write ` + "`cast(status as bigint) >= 500`" + `, or compare strings (` + "`status >= '500'`" + ` compares
  byte-wise). A field ` + "`extend`" + ` assigns keeps its type for the instructions that follow.
- A **missing field is null**: a comparison with it is null, and ` + "`where`" + ` drops a log whose condition is
  null or false.
- ` + "`__time__`" + ` and ` + "`__time_ns_part__`" + ` are bigint; ` + "`extend`" + ` may set them, the project instructions keep
  them, the parse instructions never write them. ` + "`__topic__`" + `, ` + "`__source__`" + ` and ` + "`\"__tag__:<key>\"`" + ` read the
  log group and cannot be written.
- A log the statement **fails on** (` + "`cast('abc' as bigint)`" + `, a division by zero) is left out of the answer
  and counted (` + "`x-log-failedlines`" + `, metric ` + "`slspipe_sls_source_query_failed_logs_total`" + `); ` + "`try_cast`" + ` gives
  null instead.
- Kept logs stay in their log groups with the group's topic, source and tags; a group left with no log is
  not sent.
- A malformed or unsupported statement is answered 400 ` + "`ParameterInvalid`" + ` with its line and column.
`
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

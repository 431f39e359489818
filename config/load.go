package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and validates the pipeline file at path, expanding ${VAR}
// from the process environment and resolving relative paths against the
// file's directory.
//
// A file that is not a valid pipeline yields an *Errors listing every
// problem; a file that cannot be read yields a plain error.
func Load(path string) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	return Parse(path, data, os.LookupEnv, dir)
}

// Parse validates a pipeline file's contents. name labels error positions
// (usually the file's path); lookup resolves ${VAR} (os.LookupEnv when
// nil); relative paths are resolved against baseDir.
//
// Any problem yields an *Errors listing all of them, sorted by position.
func Parse(name string, data []byte, lookup func(string) (string, bool), baseDir string) (*Pipeline, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	errs := &errList{file: name}
	root := parseYAML(data, errs)
	if root == nil {
		return nil, errs.result()
	}
	p := &Pipeline{}
	d := &decoder{errs: errs, lookup: lookup, baseDir: baseDir, owner: root, src: data}
	d.value(root, reflect.ValueOf(p).Elem(), nil, "")
	if err := errs.result(); err != nil {
		return nil, err
	}
	p.File = name
	return p, nil
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses the single YAML document in data into a node tree,
// reporting syntax errors into errs. It returns nil when there is nothing
// to decode.
func parseYAML(data []byte, errs *errList) *yaml.Node {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			errs.add(1, 1, "the file is empty; a pipeline needs at least name, source and sink")
			return nil
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			msg = m[2]
		}
		line, col := syntaxErrorAt(data)
		errs.add(line, col, "invalid YAML: %s", msg)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		errs.add(extra.Line, extra.Column, "only one YAML document is allowed in a pipeline file")
	}
	if len(doc.Content) == 0 {
		errs.add(1, 1, "the file is empty; a pipeline needs at least name, source and sink")
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		errs.add(root.Line, root.Column, "expected a mapping of pipeline settings (name, source, steps, sink, …)")
		return nil
	}
	return root
}

// syntaxErrorAt locates a YAML syntax error. The parser reports the line
// where the enclosing block starts, which is often far from the mistake;
// the first line whose addition makes the text unparsable is where the
// user must look. The column is that line's first non-blank character.
func syntaxErrorAt(data []byte) (line, col int) {
	lines := strings.SplitAfter(string(data), "\n")
	for n := 1; n <= len(lines); n++ {
		var node yaml.Node
		dec := yaml.NewDecoder(strings.NewReader(strings.Join(lines[:n], "")))
		if err := dec.Decode(&node); err != nil && !errors.Is(err, io.EOF) {
			text := lines[n-1]
			return n, len(text) - len(strings.TrimLeft(text, " \t")) + 1
		}
	}
	return len(lines), 1
}

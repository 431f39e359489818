// Package builtin provides the stages a pipeline runs when a step names a
// built-in instead of a WebAssembly module, so a pipeline with no module
// works end to end:
//
//   - deserialize "sls": records come out of the SLS source already decoded
//     (one field per log content), so this built-in does no work;
//   - deserialize "json": parses a JSON object held in one field (or in the
//     record's payload, for a NATS source) into fields; the reserved members
//     the json serializer writes set the record's time, topic, source and
//     tags, so the two round-trip;
//   - transform "identity": passes records through unchanged (no work);
//   - serialize "json": writes the record as one JSON object into its
//     payload ("__time__", "__time_ns__", "__topic__", "__source__",
//     "__tag__:k", then the fields in order);
//   - serialize "raw": uses one field's value as the payload.
//
// A built-in that does no work is returned as a nil factory: the pipeline
// skips it rather than paying for a pass-through call.
package builtin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/slspipe/slspipe/engine"
)

// Roles, as in the pipeline file.
const (
	RoleDeserialize = "deserialize"
	RoleTransform   = "transform"
	RoleSerialize   = "serialize"
)

// New returns the built-in stage name for role, configured by cfg, under the
// step name stepName. It returns a nil factory for built-ins that do no work.
func New(role, name, stepName string, cfg map[string]string) (engine.StageFactory, error) {
	var known []string
	switch role {
	case RoleDeserialize:
		switch name {
		case "sls":
			return nil, checkKeys(role, name, cfg)
		case "json":
			field, err := oneKey(role, name, cfg, "field", "content")
			if err != nil {
				return nil, err
			}
			return engine.StageFunc(stepName, jsonDeserializer{field: field}.process), nil
		}
		known = []string{"sls", "json"}
	case RoleTransform:
		if name == "identity" {
			return nil, checkKeys(role, name, cfg)
		}
		known = []string{"identity"}
	case RoleSerialize:
		switch name {
		case "json":
			if err := checkKeys(role, name, cfg); err != nil {
				return nil, err
			}
			return engine.StageFunc(stepName, serializeJSON), nil
		case "raw":
			field, err := oneKey(role, name, cfg, "field", "content")
			if err != nil {
				return nil, err
			}
			return engine.StageFunc(stepName, rawSerializer{field: field}.process), nil
		}
		known = []string{"json", "raw"}
	default:
		return nil, fmt.Errorf("unknown step role %q", role)
	}
	return nil, fmt.Errorf("unknown %s built-in %q; expected one of %s", role, name, strings.Join(known, ", "))
}

// checkKeys rejects any configuration for a built-in that takes none.
func checkKeys(role, name string, cfg map[string]string) error {
	if len(cfg) == 0 {
		return nil
	}
	return fmt.Errorf("%s built-in %q takes no config, got %s", role, name, strings.Join(keys(cfg), ", "))
}

// oneKey returns cfg[key] (def when absent) and rejects any other key.
func oneKey(role, name string, cfg map[string]string, key, def string) (string, error) {
	for k := range cfg {
		if k != key {
			return "", fmt.Errorf("%s built-in %q: unknown config key %q; expected %q", role, name, k, key)
		}
	}
	if v, ok := cfg[key]; ok && v != "" {
		return v, nil
	}
	return def, nil
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package config

import "strings"

// Step roles, in pipeline order.
const (
	RoleDeserialize = "deserialize"
	RoleTransform   = "transform"
	RoleSerialize   = "serialize"
)

// builtins lists the built-in implementation names of each role.
var builtins = map[string][]string{
	RoleDeserialize: {"sls", "json"},
	RoleTransform:   {"identity"},
	RoleSerialize:   {"json", "raw"},
}

// Step is one stage of the pipeline: a WebAssembly module or a built-in.
type Step struct {
	Name          string            `yaml:"name" required:"true" format:"name" doc:"Unique name of the step, used in logs, metrics and dead letters."`
	Role          string            `yaml:"role" required:"true" enum:"deserialize|transform|serialize" doc:"deserialize: a source record into the pipeline's record (at most one, first). transform: record into zero, one or many records. serialize: record into what the sink writes (at most one, last)."`
	Module        string            `yaml:"module" format:"module" doc:"Path of the .wasm module, relative to the pipeline file. Give module or builtin."`
	Builtin       string            `yaml:"builtin" doc:"Built-in implementation: deserialize sls or json; transform identity; serialize json or raw."`
	Config        map[string]string `yaml:"config" doc:"Settings passed to the module when it starts."`
	Allow         Allow             `yaml:"allow" doc:"What the module may reach; nothing by default."`
	Instances     int               `yaml:"instances" default:"0" min:"0" max:"1024" doc:"Module instances run in parallel; 0 matches the number of shards being read."`
	MemoryLimit   Size              `yaml:"memory_limit" default:"64MiB" min:"64KiB" max:"4GiB" doc:"Memory cap of each instance."`
	BatchDeadline Duration          `yaml:"batch_deadline" default:"1s" min:"1ms" doc:"Longest time one batch may run in the module before it is stopped."`
}

// Allow grants a module access it does not have by default.
type Allow struct {
	Dirs []string `yaml:"dirs" format:"path" doc:"Directories the module may read, relative to the pipeline file."`
	Env  []string `yaml:"env" format:"envname" doc:"Environment variables the module may read."`
}

func (s *Step) check(c *checkCtx) {
	switch {
	case s.Module != "" && s.Builtin != "":
		c.errorf("builtin", "give module or builtin, not both")
	case s.Module == "" && s.Builtin == "":
		c.d.errorf(c.node, "%smissing module or builtin", prefix(c.path))
	case s.Builtin != "":
		if names, ok := builtins[s.Role]; ok && !contains(names, s.Builtin) {
			c.errorf("builtin", "unknown %s built-in %q; expected one of %s", s.Role, s.Builtin, strings.Join(names, ", "))
		}
	}
}

// Builtins returns the names of the built-in implementations of role
// (RoleDeserialize, RoleTransform or RoleSerialize).
func Builtins(role string) []string {
	return append([]string(nil), builtins[role]...)
}

// defaultBuiltin returns the built-in used for role when the pipeline has
// no step of that role, or "" when the role may be absent.
func defaultBuiltin(role, sourceKind string) string {
	switch role {
	case RoleDeserialize:
		if sourceKind == "nats" {
			return "json"
		}
		return "sls"
	case RoleSerialize:
		return "json"
	}
	return ""
}

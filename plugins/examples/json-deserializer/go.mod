module example.com/slspipe-examples/json-deserializer

go 1.24

require github.com/slspipe/slspipe/plugins/sdk/go v0.0.0

replace github.com/slspipe/slspipe/plugins/sdk/go => ../../sdk/go

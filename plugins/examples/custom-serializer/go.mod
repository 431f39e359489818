module example.com/slspipe-examples/custom-serializer

go 1.24

require github.com/slspipe/slspipe/plugins/sdk/go v0.0.0

replace github.com/slspipe/slspipe/plugins/sdk/go => ../../sdk/go

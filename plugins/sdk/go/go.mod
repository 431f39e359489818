module github.com/slspipe/slspipe/plugins/sdk/go

go 1.24

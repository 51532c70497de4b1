module testflow.dev/examples/go-kv

go 1.19

require testflow.dev/plugin-sdk v0.0.0

replace testflow.dev/plugin-sdk => ../../../sdk/go

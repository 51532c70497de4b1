module testflow.dev/plugin-sdk

go 1.19

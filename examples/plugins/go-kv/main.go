// Example plugin written with the Go SDK: an in-memory key-value store shared by the steps
// of every run (go-kv.put, go-kv.get), to show that the process is reused between steps.
package main

import (
	"fmt"
	"log"
	"sync"

	plugin "testflow.dev/plugin-sdk"
)

func main() {
	var mu sync.Mutex
	store := map[string]any{}
	p := plugin.New("go-kv", "Go key-value store", "1.0.0")
	p.Description = "Example plugin written with the Go SDK"
	p.Action("put", plugin.ActionOptions{
		Description: "Store a value under a key",
		Schema: plugin.Schema{
			"type":       "object",
			"properties": map[string]any{"key": map[string]any{"type": "string"}, "value": map[string]any{}},
			"required":   []string{"key", "value"},
		},
	}, func(config map[string]any, ctx *plugin.Context) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		key := config["key"].(string)
		store[key] = config["value"]
		ctx.Log("info", fmt.Sprintf("stored %s for run %s", key, ctx.ExecutionID))
		return map[string]any{"key": key, "size": len(store)}, nil
	})
	p.Action("get", plugin.ActionOptions{
		Description: "Read the value of a key; fails with NOT_FOUND",
		Schema: plugin.Schema{
			"type":       "object",
			"properties": map[string]any{"key": map[string]any{"type": "string"}},
			"required":   []string{"key"},
		},
	}, func(config map[string]any, ctx *plugin.Context) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		key := config["key"].(string)
		value, ok := store[key]
		if !ok {
			return nil, plugin.NewError("NOT_FOUND", "no value under "+key, map[string]any{"key": key})
		}
		return map[string]any{"key": key, "value": value}, nil
	})
	log.Fatal(p.Serve())
}

package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestPlugin() *Plugin {
	p := New("greeter", "Greeter", "1.2.3")
	p.Action("hello", ActionOptions{Description: "Say hello", Schema: Schema{
		"type":       "object",
		"properties": map[string]any{"name": map[string]any{"type": "string"}},
		"required":   []any{"name"},
	}}, func(config map[string]any, ctx *Context) (any, error) {
		ctx.Log("info", "greeting in "+ctx.FlowID)
		return map[string]any{"greeting": "Hello, " + config["name"].(string) + "!", "step": ctx.StepID}, nil
	})
	p.Action("fail", ActionOptions{}, func(map[string]any, *Context) (any, error) {
		return nil, NewError("NOPE", "failed on purpose", map[string]any{"why": "test"})
	})
	p.Action("bug", ActionOptions{}, func(map[string]any, *Context) (any, error) {
		var m map[string]int
		m["x"] = 1 // panics: nil map
		return nil, errors.New("unreachable")
	})
	p.Auth(func(config map[string]any, _ *Context) (any, error) {
		return map[string]any{"headers": map[string]any{"X-User": config["user"]}}, nil
	})
	return p
}

func call(t *testing.T, srv *httptest.Server, path string, body any) (int, map[string]any) {
	t.Helper()
	var resp *http.Response
	var err error
	if body == nil {
		resp, err = http.Get(srv.URL + path)
	} else {
		data, _ := json.Marshal(body)
		resp, err = http.Post(srv.URL+path, "application/json", bytes.NewReader(data))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestHealthAndInfo(t *testing.T) {
	srv := httptest.NewServer(newTestPlugin().Handler())
	defer srv.Close()
	status, health := call(t, srv, "/health", nil)
	if status != 200 || health["status"] != "healthy" || health["version"] != "1.2.3" {
		t.Fatalf("health: %d %v", status, health)
	}
	_, info := call(t, srv, "/info", nil)
	actions := info["actions"].([]any)
	var ids []string
	for _, a := range actions {
		ids = append(ids, a.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, ",") != "greeter.hello,greeter.fail,greeter.bug" {
		t.Fatalf("actions: %v", ids)
	}
}

func TestExecuteSuccessUsesConfigAndContext(t *testing.T) {
	srv := httptest.NewServer(newTestPlugin().Handler())
	defer srv.Close()
	_, out := call(t, srv, "/execute", map[string]any{
		"action": "greeter.hello", "config": map[string]any{"name": "Ada"},
		"context": map[string]any{"flow_id": "f1", "step_id": "s1"},
	})
	if out["success"] != true {
		t.Fatalf("not a success: %v", out)
	}
	output := out["output"].(map[string]any)
	if output["greeting"] != "Hello, Ada!" || output["step"] != "s1" {
		t.Fatalf("output: %v", output)
	}
	logs := out["logs"].([]any)
	if logs[0].(map[string]any)["message"] != "greeting in f1" {
		t.Fatalf("logs: %v", logs)
	}
}

func TestExecuteFailures(t *testing.T) {
	srv := httptest.NewServer(newTestPlugin().Handler())
	defer srv.Close()
	cases := []struct {
		action, code string
		config       map[string]any
		status       int
	}{
		{"greeter.hello", "INVALID_CONFIG", map[string]any{"name": 5}, 200},
		{"greeter.hello", "INVALID_CONFIG", map[string]any{}, 200},
		{"greeter.fail", "NOPE", nil, 200},
		{"greeter.bug", "INTERNAL_ERROR", nil, 200},
		{"greeter.nope", "UNKNOWN_ACTION", nil, 400},
	}
	for _, c := range cases {
		status, out := call(t, srv, "/execute", map[string]any{"action": c.action, "config": c.config})
		if status != c.status || out["success"] != false {
			t.Fatalf("%s: status %d, %v", c.action, status, out)
		}
		if code := out["error"].(map[string]any)["code"]; code != c.code {
			t.Fatalf("%s: code %v, want %s", c.action, code, c.code)
		}
	}
	// The panic did not kill the server.
	if status, _ := call(t, srv, "/health", nil); status != 200 {
		t.Fatalf("server down after a panic")
	}
}

func TestAuthReservedAction(t *testing.T) {
	srv := httptest.NewServer(newTestPlugin().Handler())
	defer srv.Close()
	_, out := call(t, srv, "/execute", map[string]any{"action": AuthAction, "config": map[string]any{"user": "bob"}})
	headers := out["output"].(map[string]any)["headers"].(map[string]any)
	if headers["X-User"] != "bob" {
		t.Fatalf("headers: %v", headers)
	}
}

func TestConfigProblemsAdditionalProperties(t *testing.T) {
	got := ConfigProblems(Schema{"additionalProperties": false}, map[string]any{"x": 1.0})
	if len(got) != 1 || got[0] != "x: unknown field" {
		t.Fatalf("problems: %v", got)
	}
}

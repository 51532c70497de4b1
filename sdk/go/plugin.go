// Package plugin is the testflow plugin SDK for Go (standard library only).
//
// A plugin is an HTTP server on 127.0.0.1:$PLUGIN_PORT speaking the TestMesh plugin
// protocol (GET /health, GET /info, POST /execute, POST /shutdown). Register handlers and
// call Serve:
//
//	p := plugin.New("greeter", "Greeter", "1.0.0")
//	p.Action("hello", plugin.ActionOptions{Schema: plugin.Schema{"type": "object"}},
//	    func(config map[string]any, ctx *plugin.Context) (any, error) {
//	        ctx.Log("info", "greeting")
//	        return map[string]any{"greeting": "Hello, " + fmt.Sprint(config["name"])}, nil
//	    })
//	log.Fatal(p.Serve())
//
// Action names without a dot are prefixed with the plugin id. Return a *plugin.Error to
// answer success false with your own code; any other error becomes INTERNAL_ERROR.
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Reserved actions of the non-action plugin types.
const (
	AuthAction   = "authenticate"
	ImportAction = "import"
	ExportAction = "export"
	ReportAction = "report"
)

var reserved = map[string]bool{AuthAction: true, ImportAction: true, ExportAction: true, ReportAction: true}

// Schema is a JSON Schema document.
type Schema map[string]any

// LogEntry is one line of a handler's log, shown in the step's report.
type LogEntry struct {
	Level     string `json:"level"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

// Context is the `context` of an /execute request plus the handler's log.
type Context struct {
	ExecutionID string         `json:"execution_id"`
	FlowID      string         `json:"flow_id"`
	StepID      string         `json:"step_id"`
	Variables   map[string]any `json:"variables"`
	StepOutputs map[string]any `json:"step_outputs"`
	Logs        []LogEntry     `json:"-"`
}

// Log adds a log line to the answer.
func (c *Context) Log(level, message string) {
	c.Logs = append(c.Logs, LogEntry{Level: level, Message: message, Timestamp: time.Now().UTC().Format(time.RFC3339Nano)})
}

// Error is a failure with a protocol error code (answered as success false).
type Error struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError makes an *Error.
func NewError(code, message string, details map[string]any) *Error {
	if details == nil {
		details = map[string]any{}
	}
	return &Error{Code: code, Message: message, Details: details}
}

// Handler runs one action.
type Handler func(config map[string]any, ctx *Context) (any, error)

// ActionOptions describe an action in /info.
type ActionOptions struct {
	Name        string
	Description string
	Schema      Schema
}

type action struct {
	id      string
	opts    ActionOptions
	handler Handler
}

// Answer is the body of an /execute answer.
type Answer struct {
	Success bool               `json:"success"`
	Output  any                `json:"output"`
	Error   *Error             `json:"error,omitempty"`
	Logs    []LogEntry         `json:"logs"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Plugin holds the identity and handlers of a plugin.
type Plugin struct {
	ID, Name, Version, Description string

	mu      sync.RWMutex
	actions map[string]*action
	order   []string
	started time.Time
	server  *http.Server
}

// New makes a plugin.
func New(id, name, version string) *Plugin {
	return &Plugin{ID: id, Name: name, Version: version, actions: map[string]*action{}, started: time.Now()}
}

// Action registers a step action ("hello" becomes "<id>.hello").
func (p *Plugin) Action(name string, opts ActionOptions, h Handler) *Plugin {
	id := name
	if !strings.Contains(name, ".") && !reserved[name] {
		id = p.ID + "." + name
	}
	if opts.Schema == nil {
		opts.Schema = Schema{"type": "object"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.actions[id]; dup {
		panic("action " + id + " is registered twice")
	}
	p.actions[id] = &action{id: id, opts: opts, handler: h}
	p.order = append(p.order, id)
	return p
}

// Auth registers the handler of an auth plugin: return {"headers": {...}}.
func (p *Plugin) Auth(h Handler) *Plugin { return p.Action(AuthAction, ActionOptions{}, h) }

// Importer registers the handler of an importer: return {"flows": [...]}.
func (p *Plugin) Importer(h Handler) *Plugin { return p.Action(ImportAction, ActionOptions{}, h) }

// Exporter registers the handler of an exporter: return {"files": [...]}.
func (p *Plugin) Exporter(h Handler) *Plugin { return p.Action(ExportAction, ActionOptions{}, h) }

// Reporter registers the handler of a reporter: return {"files": [...]}.
func (p *Plugin) Reporter(h Handler) *Plugin { return p.Action(ReportAction, ActionOptions{}, h) }

// Info is the /info document.
func (p *Plugin) Info() map[string]any {
	p.mu.RLock()
	defer p.mu.RUnlock()
	actions := []map[string]any{}
	for _, id := range p.order {
		if reserved[id] {
			continue
		}
		a := p.actions[id]
		name := a.opts.Name
		if name == "" {
			name = id
		}
		actions = append(actions, map[string]any{"id": id, "name": name, "description": a.opts.Description, "schema": a.opts.Schema})
	}
	return map[string]any{"id": p.ID, "name": p.Name, "version": p.Version, "description": p.Description, "actions": actions}
}

// ConfigProblems checks the top level of config against schema (required keys, property
// types, additionalProperties false); the host validates the full schema before a run.
func ConfigProblems(schema Schema, config map[string]any) []string {
	var problems []string
	props, _ := schema["properties"].(map[string]any)
	if req, ok := schema["required"].([]any); ok {
		for _, k := range req {
			if _, present := config[fmt.Sprint(k)]; !present {
				problems = append(problems, fmt.Sprint(k)+": the field is required")
			}
		}
	}
	if req, ok := schema["required"].([]string); ok {
		for _, k := range req {
			if _, present := config[k]; !present {
				problems = append(problems, k+": the field is required")
			}
		}
	}
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		prop, known := props[k].(map[string]any)
		if !known {
			if schema["additionalProperties"] == false {
				problems = append(problems, k+": unknown field")
			}
			continue
		}
		if t, ok := prop["type"].(string); ok && !hasType(config[k], t) {
			problems = append(problems, fmt.Sprintf("%s: expected %s", k, t))
		}
	}
	return problems
}

func hasType(v any, t string) bool {
	switch t {
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "null":
		return v == nil
	}
	return true
}

func failure(code, message string, details map[string]any, logs []LogEntry) Answer {
	if logs == nil {
		logs = []LogEntry{}
	}
	return Answer{Success: false, Output: map[string]any{}, Error: NewError(code, message, details), Logs: logs}
}

type request struct {
	Action  string         `json:"action"`
	Config  map[string]any `json:"config"`
	Context Context        `json:"context"`
}

// Execute dispatches one /execute body; it returns the HTTP status and the answer.
func (p *Plugin) Execute(body []byte) (int, Answer) {
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return 400, failure("BAD_REQUEST", "invalid request: "+err.Error(), nil, nil)
	}
	p.mu.RLock()
	a := p.actions[req.Action]
	known := append([]string(nil), p.order...)
	p.mu.RUnlock()
	if a == nil {
		sort.Strings(known)
		return 400, failure("UNKNOWN_ACTION", fmt.Sprintf("Unknown action: %s (this plugin has: %s)", req.Action, strings.Join(known, ", ")), nil, nil)
	}
	if req.Config == nil {
		req.Config = map[string]any{}
	}
	if problems := ConfigProblems(a.opts.Schema, req.Config); len(problems) > 0 {
		return 200, failure("INVALID_CONFIG", "invalid config for "+a.id+": "+strings.Join(problems, "; "), map[string]any{"errors": problems}, nil)
	}
	ctx := &req.Context
	started := time.Now()
	out, err := safeCall(a.handler, req.Config, ctx)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return 200, failure(pe.Code, pe.Message, pe.Details, ctx.Logs)
		}
		ctx.Log("error", err.Error())
		return 200, failure("INTERNAL_ERROR", err.Error(), nil, ctx.Logs)
	}
	if out == nil {
		out = map[string]any{}
	}
	logs := ctx.Logs
	if logs == nil {
		logs = []LogEntry{}
	}
	ms := float64(time.Since(started).Microseconds()) / 1000
	return 200, Answer{Success: true, Output: out, Logs: logs, Metrics: map[string]float64{"duration_ms": ms}}
}

// safeCall turns a panic in a handler into an error, so one bad call never kills the plugin.
func safeCall(h Handler, config map[string]any, ctx *Context) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return h(config, ctx)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = 500, []byte(`{"success":false,"output":{},"error":{"code":"INTERNAL_ERROR","message":"cannot encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Handler returns the protocol's HTTP handler (useful in tests with httptest).
func (p *Plugin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "healthy", "version": p.Version, "uptime_seconds": int(time.Since(p.started).Seconds())})
	})
	mux.HandleFunc("/info", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, p.Info()) })
	mux.HandleFunc("/execute", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeJSON(w, 405, map[string]any{"error": "use POST"})
			return
		}
		body := make([]byte, 0, 1024)
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		status, answer := p.Execute(body)
		writeJSON(w, status, answer)
	})
	mux.HandleFunc("/shutdown", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"message": "shutting down"})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if p.server != nil {
				_ = p.server.Shutdown(ctx)
			}
		}()
	})
	return mux
}

// Serve listens on 127.0.0.1:$PLUGIN_PORT (only loopback) until POST /shutdown.
func (p *Plugin) Serve() error {
	port := os.Getenv("PLUGIN_PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		return err
	}
	return p.ServeListener(ln)
}

// ServeListener serves on an existing listener.
func (p *Plugin) ServeListener(ln net.Listener) error {
	p.server = &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "plugin %s listening on %s\n", p.ID, ln.Addr())
	err := p.server.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

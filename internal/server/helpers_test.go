package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/config"
	"github.com/talkdesk-intercom/api/internal/metrics"
	"github.com/talkdesk-intercom/api/sources/intercom/emulator"
)

const testToken = "test-secret-token-7f3a"

// testEnv is the real server over real HTTP, in front of the Intercom
// emulator over real HTTP.
type testEnv struct {
	URL      string
	Intercom *emulator.Server
	Logs     *syncWriter
	Metrics  *metrics.Metrics
	Services *services
	Server   *httptest.Server // closing it is a replica going away
	App      *Server
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWith(t, emulator.Options{})
}

func newTestEnvWith(t *testing.T, opts emulator.Options, settings ...string) *testEnv {
	t.Helper()
	opts.Token = testToken
	if opts.WorkspaceID == "" {
		opts.WorkspaceID = uniqueWorkspaceID() // tests share one Redis: each gets its own tenant
	}
	em, err := emulator.Start(opts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(func() { em.Close() })
	return newTestEnvOn(t, em, settings...)
}

// newTestEnvOn is another server in front of the emulator em: replicas of
// one service share their emulator (and the suite's Redis).
func newTestEnvOn(t *testing.T, em *emulator.Server, settings ...string) *testEnv {
	t.Helper()
	env := map[string]string{"INTERCOM_TOKEN": testToken, "INTERCOM_BASE_URL": em.URL, "REDIS_URL": testRedisURL()}
	// Redis calls are bounded by REDIS_TIMEOUT for real now: under the race
	// detector on a busy machine a call may pass the 100 ms default, and
	// Redis is then skipped for a moment. Tests that count upstream calls
	// must not see that; those about a slow Redis set their own.
	env["REDIS_TIMEOUT"] = "2s"
	for i := 0; i+1 < len(settings); i += 2 {
		env[settings[i]] = settings[i+1]
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &syncWriter{w: &bytes.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(io.MultiWriter(logs, suiteLog(t)), &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	t.Cleanup(app.Close)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testToken) {
			t.Errorf("the Intercom token appears in the server's logs")
		}
	})
	return &testEnv{URL: srv.URL, Intercom: em, Logs: logs, Metrics: app.svc.metrics, Services: app.svc, Server: srv, App: app}
}

// run serves as the command does until ctx is cancelled: the tests of what
// a user sees when starting the server.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		return err
	}
	return ListenAndServe(ctx, cfg, NewLogger(cfg.Log, stdout))
}

var workspaceSeq atomic.Int64

func uniqueWorkspaceID() string {
	return fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, workspaceSeq.Add(1))
}

// testRedisURL is the suite's Redis (scripts/test.sh starts one), or "" to
// cache in process when the tests run without it.
func testRedisURL() string {
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		return "redis://" + addr + "/0"
	}
	return ""
}

// gqlResponse is a GraphQL response as a client sees it.
type gqlResponse struct {
	Status int
	Header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// query POSTs a GraphQL request and decodes the answer into data.
func (e *testEnv) query(t *testing.T, query string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", e.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	return do(t, req, data)
}

// mustQuery is query for requests that must succeed without errors.
func (e *testEnv) mustQuery(t *testing.T, query string, vars map[string]any, data any) {
	t.Helper()
	r := e.query(t, query, vars, data)
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("query failed: HTTP %d, errors %+v", r.Status, r.Errors)
	}
}

func do(t *testing.T, req *http.Request, data any) gqlResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: HTTP %d, body is not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	if data != nil && len(out.Data) > 0 && string(out.Data) != "null" {
		if err := json.Unmarshal(out.Data, data); err != nil {
			t.Fatalf("decode data %s: %v", out.Data, err)
		}
	}
	return out
}

// syncWriter lets concurrent handlers write to one log buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
	f  io.Writer // instead of w, when set
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		return s.f.Write(p)
	}
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	_, body := getStatus(t, url)
	return body
}

// getStatus GETs url and gives the status code and the body.
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// suiteLog is where a test server's log also goes when TEST_LOG_DIR is set:
// scripts/test.sh scans every line the suite logged for the test secrets
// (testdata/secrets.txt).
func suiteLog(t *testing.T) io.Writer {
	t.Helper()
	dir := os.Getenv("TEST_LOG_DIR")
	if dir == "" {
		return io.Discard
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("suite log: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return &syncWriter{w: nil, f: f}
}

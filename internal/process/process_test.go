package process

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The harness is tested on a stand-in for the server: this test binary,
// run with the setting STAND_IN, serves /readyz and logs as the server does
// (tests of the real binary are in e2e/). It needs no build.
func TestMain(m *testing.M) {
	if mode := os.Getenv("STAND_IN"); mode != "" {
		os.Exit(standIn(mode))
	}
	os.Exit(m.Run())
}

// standIn logs a JSON "listening" line with the address it bound (unless
// LOG_LEVEL is warn), answers /readyz and /env (its environment), and ends
// on SIGTERM. Mode "exit" fails at start instead.
func standIn(mode string) int {
	if mode == "exit" {
		fmt.Println(`{"level":"ERROR","msg":"INTERCOM_TOKEN: rejected"}`)
		return 1
	}
	ln, err := net.Listen("tcp", os.Getenv("ADDR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("LOG_LEVEL") != "warn" {
		line, _ := json.Marshal(map[string]string{"msg": "listening", "addr": ln.Addr().String()})
		fmt.Printf("%s\n", line)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"status":"ready"}`) })
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) { _ = json.NewEncoder(w).Encode(os.Environ()) })
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() { _ = http.Serve(ln, mux) }()
	<-term
	fmt.Println(`{"msg":"stopped"}`)
	return 0
}

func self(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// syncBuffer is a process's output, read while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStartRunsTheServerWithExactlyItsSettings(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://from-the-shell:6379/0") // not a setting given: not passed
	var out syncBuffer
	s, err := Start(context.Background(), self(t), map[string]string{"STAND_IN": "serve", "LOG_LEVEL": "debug", "CACHE_ENABLED": ""}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || strings.HasSuffix(s.URL, ":0") {
		t.Errorf("URL %q, want the loopback address the server logged", s.URL)
	}
	resp, err := http.Get(s.URL + "/env")
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	_ = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	var names []string
	for _, kv := range env {
		names = append(names, strings.SplitN(kv, "=", 2)[0])
	}
	slices.Sort(names)
	var want []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if _, ok := os.LookupEnv(k); ok {
			want = append(want, k)
		}
	}
	want = append(want, "ADDR", "LOG_FORMAT", "LOG_LEVEL", "STAND_IN") // CACHE_ENABLED is empty: unset
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("the server's environment has %v, want %v", names, want)
	}
	if !slices.Contains(env, "LOG_FORMAT=json") || !slices.Contains(env, "ADDR=127.0.0.1:0") {
		t.Errorf("environment %v: want LOG_FORMAT=json and ADDR=127.0.0.1:0", env)
	}

	s.Stop()
	select {
	case <-s.Exited():
	default:
		t.Error("Stop returned before the server exited")
	}
	if !strings.Contains(out.String(), `"listening"`) || !strings.Contains(out.String(), `"stopped"`) {
		t.Errorf("output %q: want the listening line and the stopped line (SIGTERM)", out.String())
	}
	s.Stop() // a stopped server: nothing to do
}

// With LOG_LEVEL=warn the server does not log where it listens: the
// harness chooses the port.
func TestStartAQuietServer(t *testing.T) {
	s, err := Start(context.Background(), self(t), map[string]string{"STAND_IN": "serve", "LOG_LEVEL": "warn"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestStartReportsAServerThatExits(t *testing.T) {
	_, err := Start(context.Background(), self(t), map[string]string{"STAND_IN": "exit"}, nil)
	if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "INTERCOM_TOKEN: rejected") {
		t.Errorf("Start = %v, want the exit and the end of the server's log", err)
	}
}

func TestStartKeepsAddrAndLogFormat(t *testing.T) {
	for _, k := range []string{"ADDR", "LOG_FORMAT"} {
		if _, err := Start(context.Background(), self(t), map[string]string{"STAND_IN": "serve", k: "x"}, nil); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("Start with %s = %v, want an error naming it", k, err)
		}
	}
}

func TestKill(t *testing.T) {
	s, err := Start(context.Background(), self(t), map[string]string{"STAND_IN": "serve"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.URL + "/readyz"); err == nil {
		t.Error("a killed server still answers")
	}
	s.Stop() // already gone: nothing to do
	if err := s.Kill(); err != nil {
		t.Errorf("Kill of a dead server = %v", err)
	}
}

func TestLineWriterHandsOnWholeLines(t *testing.T) {
	var lines []string
	var out bytes.Buffer
	lw := newLineWriter(&out, func(b []byte) { lines = append(lines, string(b)) })
	for _, p := range []string{`{"msg":"lis`, "tening\"}\n{\"msg\":", "\"stopped\"}\npart"} {
		if n, err := lw.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if want := []string{`{"msg":"listening"}`, `{"msg":"stopped"}`}; !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if out.String() != "{\"msg\":\"listening\"}\n{\"msg\":\"stopped\"}\npart" {
		t.Errorf("passed on %q", out.String())
	}
	_, _ = lw.Write(bytes.Repeat([]byte("x"), 2*tailBytes))
	if got := lw.last(); len(got) != tailBytes {
		t.Errorf("kept %d bytes, want the last %d", len(got), tailBytes)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "process")); err != nil {
		t.Errorf("ModuleRoot = %s, which does not hold this package: %v", root, err)
	}
}

// A server that takes longer than the context to start is stopped.
func TestStartGivesUpWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := Start(ctx, self(t), map[string]string{"STAND_IN": "serve"}, nil); err == nil {
		t.Error("Start with a cancelled context succeeded")
	}
	if time.Since(start) > Grace {
		t.Errorf("Start took %s to give up", time.Since(start))
	}
}

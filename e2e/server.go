// Package e2e runs the real server the way a developer does (`go run .` with
// no settings, so in demo mode) for tests that use it as its users do: the
// browser test of the playground, the playground's examples over HTTP, and
// the programs in examples/.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is the server binary running in demo mode on a free loopback port.
type Server struct {
	// URL is the server's base URL, such as "http://127.0.0.1:41234".
	URL string
}

// binary is the server built once for a test binary's tests (see Main).
var binary struct {
	sync.Mutex
	dir  string // set by Main
	path string // set by the first Start
	err  error
}

// Main runs a package's tests, which share one build of the server, and
// removes the build afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "talkdesk-intercom-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binary.Lock()
	binary.dir = dir
	binary.Unlock()
	defer os.RemoveAll(dir)
	return m.Run()
}

// build compiles the server from this module's root, once.
func build() (string, error) {
	binary.Lock()
	defer binary.Unlock()
	if binary.dir == "" {
		return "", errors.New("e2e: call e2e.Main from the package's TestMain")
	}
	if binary.path != "" || binary.err != nil {
		return binary.path, binary.err
	}
	root, err := ModuleRoot()
	if err != nil {
		binary.err = err
		return "", err
	}
	path := filepath.Join(binary.dir, "talkdesk-intercom")
	cmd := exec.Command("go", "build", "-o", path, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		binary.err = fmt.Errorf("go build the server: %v\n%s", err, out)
		return "", binary.err
	}
	binary.path = path
	return path, nil
}

// Start runs the server (built from this module's root) in demo mode: no
// INTERCOM_TOKEN and no REDIS_URL, whatever the environment says. It stops
// the server when the test ends, and logs the server's output if the test
// failed. Under go test -short it skips the test.
func Start(tb testing.TB) *Server {
	tb.Helper()
	// The one check for every test that runs the binary (the browser test,
	// the examples): go test -short builds and starts no process.
	if testing.Short() {
		tb.Skip("builds and starts the server binary: not run by go test -short; ./scripts/test.sh runs it")
	}
	bin, err := build()
	if err != nil {
		tb.Fatal(err)
	}
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}

	cmd := exec.Command(bin)
	cmd.Dir = root
	cmd.Env = append(withoutSettings(os.Environ()),
		"ADDR=127.0.0.1:0", // the kernel picks a free port; the log says which
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs := &syncBuffer{}
	addr := make(chan string, 1)
	cmd.Stderr = logs
	cmd.Stdout = &lineWriter{w: logs, line: func(line []byte) {
		// The server logs one JSON object a line; "listening" carries the
		// address it bound.
		var entry struct{ Msg, Addr string }
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" && entry.Addr != "" {
			select {
			case addr <- entry.Addr:
			default:
			}
		}
	}}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the server: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	srv := &Server{}
	tb.Cleanup(func() {
		stop(cmd, exited)
		if tb.Failed() {
			tb.Logf("server log:\n%s", logs.String())
		}
	})

	select {
	case a := <-addr:
		srv.URL = "http://" + a
	case <-exited:
		tb.Fatalf("the server exited at start (%v):\n%s", waitErr, logs.String())
	case <-time.After(30 * time.Second):
		tb.Fatalf("the server did not log its address within 30s:\n%s", logs.String())
	}
	if err := waitHealthy(srv.URL, 10*time.Second); err != nil {
		tb.Fatalf("%v\n%s", err, logs.String())
	}
	return srv
}

// stop ends the server as SIGTERM does in production, then kills its whole
// process group if it has not finished within 10 seconds.
func stop(cmd *exec.Cmd, exited <-chan struct{}) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
}

func waitHealthy(base string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s/healthz did not answer 200 within %s (last error: %v)", base, within, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// withoutSettings drops the server's settings from env, so that what a
// developer's shell exports cannot take the server out of demo mode.
func withoutSettings(env []string) []string {
	settings := []string{
		"ADDR", "INTERCOM_", "REDIS_", "LOG_", "INTROSPECTION", "MAX_BODY_BYTES", "SHUTDOWN_TIMEOUT",
		"CACHE", "LOADER", "FETCH_", "COMPANY_",
	}
	var out []string
next:
	for _, kv := range env {
		for _, s := range settings {
			if strings.HasPrefix(kv, s) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// ModuleRoot is the directory of this module's go.mod, found from the
// working directory (a test runs in its package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(mod, []byte("module github.com/talkdesk-intercom/api\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("e2e: no go.mod of github.com/talkdesk-intercom/api above the working directory")
		}
		dir = parent
	}
}

// lineWriter passes what is written to w, and each complete line to line.
// exec.Cmd writes from one goroutine.
type lineWriter struct {
	w       io.Writer
	line    func([]byte)
	partial []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.partial = append(lw.partial, p...)
	for {
		i := bytes.IndexByte(lw.partial, '\n')
		if i < 0 {
			break
		}
		lw.line(lw.partial[:i])
		lw.partial = lw.partial[i+1:]
	}
	return lw.w.Write(p)
}

// syncBuffer collects a process's output for the test to read.
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

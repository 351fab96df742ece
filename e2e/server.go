// Package e2e runs the real server binary the way its users do, for tests
// that use it as they do: the browser test of the playground, the
// playground's examples over HTTP and the programs in examples/ (demo mode,
// as `go run .` with no settings), the command line, and a fleet of
// replicas behind a load balancer. Processes are started by the harness in
// internal/process; this package adds what a test needs around it.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/process"
)

// binary is the server built once for a test binary's tests (see Main).
var binary struct {
	sync.Mutex
	dir  string // set by Main
	path string // set by the first Binary
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

// Binary is the server binary, built from this module's root once for the
// test binary's tests, with the race detector when they run with it (the
// build then reuses what go test compiled, and the servers report their
// races: see StartServer). Under go test -short it skips the test: the
// quick path builds and starts no process.
func Binary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds and runs the server binary: not under -short")
	}
	binary.Lock()
	defer binary.Unlock()
	if binary.dir == "" {
		tb.Fatal("e2e: call e2e.Main from the package's TestMain")
	}
	if binary.path == "" && binary.err == nil {
		start := time.Now()
		root, err := process.ModuleRoot()
		if err == nil {
			binary.path, err = process.Build(context.Background(), root, binary.dir, raceEnabled)
		}
		binary.err = err
		if err == nil {
			tb.Logf("built the server (race detector %v) in %s", raceEnabled, time.Since(start).Round(time.Millisecond))
		}
	}
	if binary.err != nil {
		tb.Fatal(binary.err)
	}
	return binary.path
}

// Server is a server process of a test.
type Server struct {
	Name string
	// URL is the server's base URL, such as "http://127.0.0.1:41234".
	URL  string
	proc *process.Server
}

// secretSettings are the settings whose values must never reach a log.
var secretSettings = []string{"INTERCOM_TOKEN", "INTERCOM_CLIENT_SECRET"}

// StartServer runs the server binary (Binary) with exactly these settings
// on a free loopback port (process.Start) and returns once it is ready. Its
// output goes to a file (Log). It is stopped when the test ends (SIGTERM),
// and killed by the kernel should the test process die first; the test
// fails if the server printed a data race or a secret setting's value.
func StartServer(tb testing.TB, name string, settings map[string]string) *Server {
	tb.Helper()
	bin := Binary(tb)
	f, path := Log(tb, name)
	proc, err := process.Start(tb.Context(), bin, settings, f)
	if err != nil {
		f.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	tb.Cleanup(func() {
		proc.Stop()
		f.Close()
		logs, _ := os.ReadFile(path)
		for _, k := range secretSettings {
			if v := settings[k]; v != "" && bytes.Contains(logs, []byte(v)) {
				tb.Errorf("%s appears in %s's log (%s)", k, name, path)
			}
		}
		if bytes.Contains(logs, []byte("WARNING: DATA RACE")) {
			tb.Errorf("%s found a data race: see %s", name, path)
		}
		if tb.Failed() {
			tb.Logf("%s's log (%s), last lines:\n%s", name, path, LastLines(logs, 40))
		}
	})
	return &Server{Name: name, URL: proc.URL, proc: proc}
}

// Start runs the server in demo mode, as `go run .` with no settings does:
// no INTERCOM_TOKEN and no REDIS_URL, whatever the environment says.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartServer(tb, "server", map[string]string{"LOG_LEVEL": "info"})
}

// PID is the server process's id.
func (s *Server) PID() int { return s.proc.PID() }

// Kill ends the server without warning, as a crash or the OOM killer
// would, and returns once it is gone.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	if err := s.proc.Kill(); err != nil {
		tb.Fatalf("kill %s: %v", s.Name, err)
	}
}

// Log is a new file for the output of the test's process name: in
// TEST_LOG_DIR when set (scripts/test.sh scans it for the test secrets),
// else in the test's own directory.
func Log(tb testing.TB, name string) (*os.File, string) {
	tb.Helper()
	dir := os.Getenv("TEST_LOG_DIR")
	if dir == "" {
		dir = tb.TempDir()
	}
	base := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
	f, err := os.CreateTemp(dir, base+"_"+name+"-*.log")
	if err != nil {
		tb.Fatalf("log of %s: %v", name, err)
	}
	return f, f.Name()
}

// LastLines is the end of a log, for a failed test's output.
func LastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ModuleRoot is the directory of this module's go.mod, found from the
// working directory (a test runs in its package's directory).
func ModuleRoot() (string, error) {
	root, err := process.ModuleRoot()
	if err != nil {
		return "", errors.New("e2e: " + err.Error())
	}
	return root, nil
}

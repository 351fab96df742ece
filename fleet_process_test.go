package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/talkdesk-intercom/api/internal/haproxy"
	"github.com/talkdesk-intercom/api/internal/process"
)

// The fleet as it is deployed: replicas are processes of the server binary,
// behind Debian's HAProxy.

// serverBinary builds the server from the module's root (this package's
// directory) into a directory of the test. It is built the way the test
// binary was (-race under go test -race): the build then reuses the
// packages the test's own build compiled, and the replicas run with the race
// detector too (processReplica reports a race they print).
func serverBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "talkdesk-intercom")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	start := time.Now()
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
	}
	t.Logf("built the server (race detector %v) in %s", raceEnabled, time.Since(start).Round(time.Millisecond))
	return bin
}

// haproxyBin checks that HAProxy is installed: the fleet test fails, not
// skips, without it.
func haproxyBin(t *testing.T) {
	t.Helper()
	if _, err := haproxy.Bin(); err != nil {
		t.Fatalf("the fleet test runs the replicas behind a real load balancer: %v", err)
	}
}

// processLog is the file a process of the test writes its output to: in
// TEST_LOG_DIR when set (scripts/test.sh scans it for the test secrets, as
// it does the in-process servers' logs, see suiteLog), else in the test's
// own directory.
func processLog(t *testing.T, name string) (*os.File, string) {
	t.Helper()
	dir := os.Getenv("TEST_LOG_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	base := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	path := filepath.Join(dir, base+"_"+name+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("log of %s: %v", name, err)
	}
	return f, path
}

// processReplica is one server process.
type processReplica struct {
	Name, URL string
	cmd       *exec.Cmd
	exited    chan struct{}
	logPath   string
}

// startReplica runs the server binary with exactly these settings (and
// none of the test's environment but PATH, HOME and TMPDIR) on a free
// loopback port, and waits until /readyz says it is ready. It is stopped
// when the test ends, however the test ends: SIGTERM at cleanup, and the
// kernel's SIGKILL should the test process die first.
func startReplica(t *testing.T, bin, name string, settings map[string]string) *processReplica {
	t.Helper()
	env := []string{"ADDR=127.0.0.1:0", "LOG_FORMAT=json"} // the kernel picks the port; the log says which
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	f, path := processLog(t, name)
	r := &processReplica{Name: name, exited: make(chan struct{}), logPath: path}
	addr := make(chan string, 1)
	out := &lineWriter{w: f, line: func(line []byte) {
		var entry struct{ Msg, Addr string }
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" && entry.Addr != "" {
			select {
			case addr <- entry.Addr:
			default:
			}
		}
	}}
	r.cmd = exec.Command(bin)
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = out, out // one writer: exec.Cmd copies both from one goroutine
	process.DieWithParent(r.cmd)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = r.cmd.Wait(); f.Close(); close(r.exited) }()
	t.Cleanup(func() {
		r.stop()
		logs, _ := os.ReadFile(path)
		if bytes.Contains(logs, []byte(testToken)) {
			t.Errorf("the Intercom token appears in %s's log", name)
		}
		if bytes.Contains(logs, []byte("WARNING: DATA RACE")) {
			t.Errorf("%s found a data race: see %s", name, path)
		}
		if t.Failed() {
			t.Logf("%s's log (%s), last lines:\n%s", name, path, lastLines(logs, 40))
		}
	})
	select {
	case a := <-addr:
		r.URL = "http://" + a
	case <-r.exited:
		logs, _ := os.ReadFile(path)
		t.Fatalf("%s exited at start (%v):\n%s", name, r.cmd.ProcessState, lastLines(logs, 40))
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not say where it listens within 30s", name)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		if resp, err := http.Get(r.URL + "/readyz"); err == nil {
			var body struct{ Status string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && body.Status == "ready" {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s was not ready within 30s", name, r.URL)
		}
	}
}

// Kill ends the process without warning, as a crash or the OOM killer
// would, and returns once it is gone.
func (r *processReplica) Kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", r.Name, err)
	}
	<-r.exited
}

// stop ends the process as SIGTERM does in production, and kills it if it
// has not finished within 10 seconds.
func (r *processReplica) stop() {
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// startHAProxy runs HAProxy in front of the replicas (package haproxy), as
// the fleet is deployed, and returns its URL. A replica is checked every
// 200 ms on /healthz (liveness, no Intercom call) and out at the first
// failed check; a request whose connection is refused is sent again, to
// another replica (retries, redispatch). A request cut off mid-flight by a
// dying replica is answered 502: the client retries it, with its
// idempotency key.
func startHAProxy(t *testing.T, replicas ...*processReplica) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	opts := haproxy.Options{Addr: addr, Every: 200 * time.Millisecond, Fall: 1, Rise: 2}
	for _, r := range replicas {
		opts.Backends = append(opts.Backends, strings.TrimPrefix(r.URL, "http://"))
	}
	f, logPath := processLog(t, "haproxy")
	p, err := haproxy.Start(opts, f, process.DieWithParent)
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		f.Close()
		if t.Failed() {
			logs, _ := os.ReadFile(logPath)
			t.Logf("HAProxy's log (%s):\n%s", logPath, lastLines(logs, 40))
		}
	})
	return p.URL
}

// lineWriter passes what is written to w, and each complete line to line.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	line    func([]byte)
	partial []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
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

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// scrapeSum adds up a counter's values on a replica's /metrics (every
// label), as Prometheus would read them.
func scrapeSum(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatalf("GET %s/metrics: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

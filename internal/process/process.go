// Package process builds the server binary and runs it as a process, the
// way it is deployed: for the end-to-end tests (e2e/), the fleet test and
// the benchmark (cmd/bench), which measure and test the binary users run
// rather than the application in their own process.
package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// modulePath is the server's module, as its go.mod names it.
const modulePath = "github.com/talkdesk-intercom/api"

// Grace is how long Stop waits for a server to finish after SIGTERM (the
// tests and the benchmark set SHUTDOWN_TIMEOUT below it) before it kills it.
const Grace = 10 * time.Second

// startWithin bounds each step of a start: saying where it listens, then
// answering /readyz. A server built with the race detector on a busy machine
// takes seconds, not milliseconds.
const startWithin = 30 * time.Second

// ModuleRoot is the directory of the server's go.mod: found from the working
// directory (a test runs in its package's directory, the benchmark from the
// module), or else from where this package's source is.
func ModuleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.Contains(mod, []byte("module "+modulePath+"\n")) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("no go.mod of %s above the working directory", modulePath)
}

// Build compiles the server (the module's root package, in root) into dir
// and returns the binary's path. With race it is built with the race
// detector, as a test binary built with -race is: the build then reuses the
// packages go test compiled, from the build cache.
func Build(ctx context.Context, root, dir string, race bool) (string, error) {
	bin := filepath.Join(dir, "talkdesk-intercom")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s in %s: %v\n%s", strings.Join(cmd.Args[1:], " "), root, err, out)
	}
	return bin, nil
}

// Command is the server binary run with args and with exactly these
// settings as its environment (an empty value leaves a setting unset), plus
// PATH, HOME and TMPDIR, which a process needs and which are no setting of
// the server: what the caller's shell exports cannot change what is tested
// or measured. It dies with its parent (DieWithParent).
func Command(bin string, settings map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range settings {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	DieWithParent(cmd)
	return cmd
}

// Server is a server process.
type Server struct {
	// URL is the server's base URL, such as "http://127.0.0.1:41234".
	URL    string
	cmd    *exec.Cmd
	out    *lineWriter
	exited chan struct{}
}

// Start runs the server binary bin with exactly settings (see Command) on a
// free loopback port, its output (stdout and stderr) written to out, and
// returns once /readyz says it is ready; ctx bounds the start only. The
// caller stops it (Stop). ADDR and LOG_FORMAT are the harness's: the kernel
// picks the port and the server's JSON log says which.
func Start(ctx context.Context, bin string, settings map[string]string, out io.Writer) (*Server, error) {
	for _, k := range []string{"ADDR", "LOG_FORMAT"} {
		if _, ok := settings[k]; ok {
			return nil, fmt.Errorf("process.Start chooses %s itself; leave it out of the settings", k)
		}
	}
	env := make(map[string]string, len(settings)+2)
	for k, v := range settings {
		env[k] = v
	}
	env["LOG_FORMAT"] = "json"
	if !quiet(settings["LOG_LEVEL"]) {
		env["ADDR"] = "127.0.0.1:0"
		return start(ctx, bin, env, "", out)
	}
	// A server that logs only warnings does not say where it listens: it
	// is given a port that was free a moment ago, and another should it be
	// taken in between.
	var err error
	for range 3 {
		var port int
		if port, err = FreePort(); err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		env["ADDR"] = addr
		var s *Server
		if s, err = start(ctx, bin, env, addr, out); !errors.Is(err, errPortTaken) {
			return s, err
		}
	}
	return nil, err
}

var errPortTaken = errors.New("the server's port was taken")

// start starts the server on env's ADDR; addr is that address when known
// beforehand, else "" to read it from the "listening" line of the log.
func start(ctx context.Context, bin string, env map[string]string, addr string, out io.Writer) (*Server, error) {
	listening := make(chan string, 1)
	if addr != "" {
		listening <- addr
	}
	s := &Server{exited: make(chan struct{})}
	s.out = newLineWriter(out, func(line []byte) {
		// The server logs one JSON object a line; "listening" carries
		// the address it bound.
		var entry struct{ Msg, Addr string }
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" && entry.Addr != "" {
			select {
			case listening <- entry.Addr:
			default:
			}
		}
	})
	s.cmd = Command(bin, env)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out // one writer: exec.Cmd copies both from one goroutine
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	fail := func(err error) (*Server, error) {
		s.Stop()
		if strings.Contains(s.out.last(), "address already in use") {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("%w; the server's log ends:\n%s", err, s.out.last())
	}
	select {
	case a := <-listening:
		s.URL = "http://" + a
	case <-s.exited:
		return fail(fmt.Errorf("the server exited at start (%v)", s.cmd.ProcessState))
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(startWithin):
		return fail(fmt.Errorf("the server did not say where it listens within %s", startWithin))
	}
	if err := s.waitReady(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// waitReady polls /readyz until it answers 200 with status "ready".
func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(startWithin)
	for {
		if resp, err := client.Get(s.URL + "/readyz"); err == nil {
			var body struct{ Status string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && body.Status == "ready" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server at %s was not ready within %s", s.URL, startWithin)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("the server exited at start (%v)", s.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Stop ends the server as SIGTERM does in production, kills it if it has
// not finished within Grace, and returns once it is gone. Stopping a server
// that has exited does nothing.
func (s *Server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(Grace):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Kill ends the server without warning, as a crash or the OOM killer
// would, and returns once it is gone.
func (s *Server) Kill() error {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill the server at %s: %w", s.URL, err)
	}
	<-s.exited
	return nil
}

// PID is the server process's id, for a test that reads what the process
// holds (/proc/PID/fd).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Exited is closed once the server process has exited.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// quiet says whether a LOG_LEVEL hides the server's info lines, "listening"
// among them.
func quiet(level string) bool {
	var l slog.Level
	return level != "" && l.UnmarshalText([]byte(level)) == nil && l > slog.LevelInfo
}

// FreePort is a loopback port nothing listens on now (it may be taken before
// it is bound: callers retry on another).
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Package redistest gives tests a real Redis server: the suite's shared one
// (TEST_REDIS_ADDR, started by scripts/test.sh) or a private redis-server
// process that a test may stop and restart. Programs without a test (the
// benchmark, cmd/bench) start the same private servers and clusters with
// Launch and LaunchCluster, which return errors instead of failing a test.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/process"
)

// SkipShort skips a test that needs a real Redis under go test -short, the
// quick path that starts no service and needs none installed. Every helper
// of this package that gives a test a Redis calls it, so no test has to.
func SkipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a real Redis (redis-server, a Cluster or a Sentinel): not run by go test -short; ./scripts/test.sh runs it")
	}
}

// Addr returns the address of a Redis the test may use. Tests share it, so
// they must namespace their keys (a unique tenant does) and never flush it.
func Addr(t testing.TB) string {
	t.Helper()
	SkipShort(t)
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		return addr
	}
	return Start(t).Addr
}

// Server is a private redis-server process.
type Server struct {
	Addr   string
	t      testing.TB // nil for a server from Launch
	bin    string
	port   int
	dir    string
	ownDir bool // Close removes dir (Launch made it)
	cmd    *exec.Cmd
}

// errNoServer is why there is no redis-server to run.
var errNoServer = errors.New("no redis-server: install it (apt-get install redis-server) or set REDIS_SERVER_BIN")

// findServerBin is the redis-server to run: REDIS_SERVER_BIN, or the one on
// PATH.
func findServerBin() (string, error) {
	if bin := os.Getenv("REDIS_SERVER_BIN"); bin != "" {
		return bin, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errNoServer
	}
	return bin, nil
}

// serverBin is findServerBin for a test, which it fails without one.
func serverBin(t testing.TB) string {
	t.Helper()
	bin, err := findServerBin()
	if err != nil {
		t.Fatal("these tests need a real Redis: install redis-server (apt-get install redis-server) or run ./scripts/test.sh, which does")
	}
	return bin
}

// Outage is a way for Redis to go away and come back.
type Outage struct {
	Name       string
	Away, Back func(*Server)
}

// Outages are Redis frozen (SIGSTOP: connections open, nothing answers) and
// killed (then restarted, empty).
var Outages = []Outage{
	{"frozen", (*Server).Freeze, (*Server).Thaw},
	{"killed", (*Server).Stop, (*Server).Restart},
}

// Start runs a private redis-server on a free port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	SkipShort(t)
	bin := serverBin(t)
	s := &Server{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// Launch runs a private redis-server on a free port for a program that has
// no test: the caller must Close it. Freeze, Thaw and Restart of such a
// server have no test to fail: they ignore their errors, which the server's
// next client sees.
func Launch() (*Server, error) {
	bin, err := findServerBin()
	if err != nil {
		return nil, err
	}
	port, err := process.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, port: port, dir: dir, ownDir: true}
	s.Addr = "127.0.0.1:" + strconv.Itoa(port)
	if err := s.run(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Close stops the server and, for one from Launch, removes its files.
func (s *Server) Close() {
	s.Stop()
	if s.ownDir {
		_ = os.RemoveAll(s.dir)
	}
}

func (s *Server) start() {
	if s.t != nil {
		s.t.Helper()
	}
	if err := s.run(); err != nil {
		s.fail(err)
	}
}

// run starts the process and waits until it answers.
func (s *Server) run() error {
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	process.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd = cmd
	if err := ping(s.Addr, 10*time.Second); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// fail fails the test of a server from Start; one from Launch has none.
func (s *Server) fail(err error) {
	if s.t != nil {
		s.t.Helper()
		s.t.Fatal(err)
	}
}

// Stop kills the server (as a crash would) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Freeze stops the server with SIGSTOP, as a stuck host would: connections
// stay open and nothing answers. Thaw resumes it.
func (s *Server) Freeze() {
	if s.t != nil {
		s.t.Helper()
	}
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.fail(fmt.Errorf("freeze redis-server: %w", err))
	}
}

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() {
	if s.t != nil {
		s.t.Helper()
	}
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.fail(fmt.Errorf("thaw redis-server: %w", err))
	}
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	if s.t != nil {
		s.t.Helper()
	}
	s.Stop()
	s.start()
}

func freePort(t testing.TB) int {
	t.Helper()
	p, err := process.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ping waits until the Redis at addr answers PING.
func ping(addr string, within time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return nil
		}
	}
	return fmt.Errorf("redis-server on %s did not answer", addr)
}

// Client returns a go-redis client for addr, closed when the test ends.
func Client(t testing.TB, addr string) redis.UniversalClient {
	t.Helper()
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Unique returns a name no other test uses, for tenants and key prefixes.
func Unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
}

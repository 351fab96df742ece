// Package redistest gives tests a real Redis server: the suite's shared one
// (TEST_REDIS_ADDR, started by scripts/test.sh) or a private redis-server
// process that a test may stop and restart.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr returns the address of a Redis the test may use. Tests share it, so
// they must namespace their keys (a unique tenant does) and never flush it.
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("TEST_REDIS_ADDR"); addr != "" {
		return addr
	}
	return Start(t).Addr
}

// Server is a private redis-server process.
type Server struct {
	Addr string
	t    testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

// serverBin is the redis-server to run: REDIS_SERVER_BIN, or the one on PATH.
func serverBin(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("REDIS_SERVER_BIN"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
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
	bin := serverBin(t)
	s := &Server{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redis-server on %s did not answer", s.Addr)
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
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("freeze redis-server: %v", err)
	}
}

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatalf("thaw redis-server: %v", err)
	}
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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

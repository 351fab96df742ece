// Package haproxy runs Debian's HAProxy in front of replicas of the server,
// for the fleet test and the benchmark: one configuration and one way to
// start it, as an operator would put a fleet behind it (round robin, health
// checks on /healthz, a refused connection sent to another replica).
package haproxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bin finds haproxy: HAPROXY_BIN, then PATH, then /usr/sbin (not on a
// non-root user's PATH).
func Bin() (string, error) {
	if bin := os.Getenv("HAPROXY_BIN"); bin != "" {
		return bin, nil
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", nil
	}
	return "", errors.New("haproxy is not installed (Debian: apt-get install haproxy; ./scripts/test.sh installs it)")
}

// ForTest is HAProxy's binary for a test that starts it. Under go test
// -short, the quick path that starts no process and needs nothing
// installed, the test is skipped; without HAProxy it fails, saying how to
// install it.
func ForTest(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts HAProxy: not run by go test -short; ./scripts/test.sh runs it")
	}
	bin, err := Bin()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Options describe the balancer.
type Options struct {
	Addr     string   // host:port the balancer listens on
	Backends []string // host:port of each replica
	// Every is how often each replica's /healthz is checked; Fall failed
	// checks take it out, Rise good ones bring it back.
	Every      time.Duration
	Fall, Rise int
}

// Config is HAProxy's configuration for o.
func Config(o Options) string {
	var b strings.Builder
	// No maxconn: HAProxy derives it from the file descriptors it may open.
	fmt.Fprintf(&b, `defaults
	mode http
	option http-keep-alive
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	timeout http-keep-alive 60s
	timeout http-request 10s
	# A refused connection is tried again up to 3 times, each time on
	# another replica.
	retries 3
	option redispatch 1

frontend fleet
	bind %s
	# Each request says who the client is (X-Forwarded-For); the replicas
	# believe it from the balancer's address only (TRUSTED_PROXIES).
	option forwardfor
	default_backend replicas

backend replicas
	balance roundrobin
	option httpchk GET /healthz
	http-check expect status 200
	default-server inter %dms fall %d rise %d
`, o.Addr, max(o.Every, 10*time.Millisecond).Milliseconds(), max(o.Fall, 1), max(o.Rise, 1))
	for i, be := range o.Backends {
		fmt.Fprintf(&b, "\tserver r%d %s check\n", i+1, be)
	}
	return b.String()
}

// ErrAddrInUse is a balancer that could not listen on its address.
var ErrAddrInUse = errors.New("haproxy: address already in use")

// Process is a running HAProxy.
type Process struct {
	URL    string // http://Addr
	cmd    *exec.Cmd
	dir    string
	exited chan struct{}
	once   sync.Once
}

// Start checks o's configuration (haproxy -c), starts HAProxy in the
// foreground writing to out, with setup applied to its command (nil: none),
// and returns once it answers /healthz from a replica.
func Start(o Options, out io.Writer, setup func(*exec.Cmd)) (*Process, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "haproxy-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(Config(o)), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if msg, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxy -c: %v\n%s", err, msg)
	}
	var log strings.Builder
	var logMu sync.Mutex
	cmd := exec.Command(bin, "-db", "-f", path) // -db: in the foreground, owned by this process
	w := io.MultiWriter(out, lockedWriter{&logMu, &log})
	cmd.Stdout, cmd.Stderr = w, w
	if setup != nil {
		setup(cmd)
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	p := &Process{URL: "http://" + o.Addr, cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		select {
		case <-p.exited:
			_ = os.RemoveAll(dir)
			logMu.Lock()
			defer logMu.Unlock()
			if s := log.String(); strings.Contains(s, "Address already in use") || strings.Contains(s, "cannot bind") {
				return nil, ErrAddrInUse
			}
			return nil, fmt.Errorf("haproxy exited at start (%v):\n%s", cmd.ProcessState, log.String())
		default:
		}
		if resp, err := client.Get(p.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.Close()
	return nil, fmt.Errorf("haproxy did not serve a replica's /healthz on %s within 10 s", o.Addr)
}

// Exited is closed when HAProxy has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Close stops HAProxy (SIGINT, then SIGKILL after 5 s) and removes its
// configuration.
func (p *Process) Close() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		_ = os.RemoveAll(p.dir)
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

// Write keeps the first 16 KB (what explains a failed start), and drops
// the rest.
func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() < 16<<10 {
		l.w.WriteString(string(b))
	}
	return len(b), nil
}

// Package sqldbtest gives tests a real customer database loaded with the
// contract: a fresh database on a private PostgreSQL (TEST_POSTGRES_URL, as
// scripts/test.sh exports it, or a cluster the package starts itself with
// initdb and pg_ctl as an unprivileged user), or a SQLite file.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/talkdesk-intercom/api/sources/sqldb"
)

// SQLite creates a SQLite database file in a test's temporary directory,
// runs the contract and then scripts in it, and returns its sqlite: URL.
func SQLite(t testing.TB, scripts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "customers.db")
	if err := sqldb.CreateSQLite(context.Background(), path, append([]string{sqldb.Contract}, scripts...)...); err != nil {
		t.Fatalf("create SQLite customer database: %v", err)
	}
	return "sqlite:" + path
}

// Postgres creates a fresh database on the test PostgreSQL, runs the
// contract and then scripts in it, and returns its URL. Without
// TEST_POSTGRES_URL it starts a private cluster (once per test binary) and
// skips when PostgreSQL is not installed.
func Postgres(t testing.TB, scripts ...string) string {
	t.Helper()
	return CreateDatabase(t, adminURL(t), scripts...)
}

// CreateDatabase creates a fresh database on the PostgreSQL of admin (an
// admin URL), runs the contract and then scripts in it, and returns its
// URL. The database is dropped when the test ends.
func CreateDatabase(t testing.TB, admin string, scripts ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tdi_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	url := withDatabase(admin, name)
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", name, err)
	}
	defer db.Close(ctx)
	for _, s := range append([]string{sqldb.Contract}, scripts...) {
		if _, err := db.Exec(ctx, s); err != nil {
			t.Fatalf("load the customer database: %v", err)
		}
	}
	return url
}

func withDatabase(url, name string) string {
	base, query, _ := strings.Cut(url, "?")
	if i := strings.LastIndex(base, "/"); i > len("postgres://") {
		base = base[:i]
	}
	if query != "" {
		return base + "/" + name + "?" + query
	}
	return base + "/" + name
}

var (
	clusterOnce sync.Once
	clusterURL  string
	clusterErr  error
	clusterSkip string
)

// adminURL is TEST_POSTGRES_URL, or the URL of the cluster this test binary
// starts.
func adminURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("TEST_POSTGRES_URL"); u != "" {
		return u
	}
	clusterOnce.Do(func() { clusterURL, clusterSkip, clusterErr = startCluster() })
	if clusterSkip != "" {
		t.Skipf("%s: scripts/test.sh installs and starts PostgreSQL (TEST_POSTGRES_URL)", clusterSkip)
	}
	if clusterErr != nil {
		t.Fatalf("start a test PostgreSQL: %v", clusterErr)
	}
	return clusterURL
}

// Cluster is a private PostgreSQL cluster.
type Cluster struct {
	Dir  string
	Port int
	bin  string
	as   string // the user it runs as ("" : this process's)
}

// URL is the cluster's admin URL.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// StartCluster runs initdb and pg_ctl start in a new directory under dir,
// on a free port, as the unprivileged user "postgres" when this process is
// root (PostgreSQL refuses to run as root).
func StartCluster(dir string) (*Cluster, error) {
	bin := binDir()
	if bin == "" {
		return nil, fmt.Errorf("PostgreSQL is not installed (no initdb under /usr/lib/postgresql)")
	}
	c := &Cluster{Dir: filepath.Join(dir, "pgdata"), bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as")
		}
		c.as = "postgres"
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.MkdirAll(c.Dir, 0o700); err != nil {
			return nil, err
		}
		for _, d := range []string{dir, c.Dir} {
			_ = os.Chmod(d, 0o755)
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
		_ = os.Chmod(c.Dir, 0o700)
	}
	if out, err := c.run("initdb", "-D", c.Dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for try := 0; try < 5; try++ {
		c.Port = freePort()
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.Port, c.Dir)
		if out, err := c.run("pg_ctl", "-D", c.Dir, "-o", opts, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "30", "start"); err != nil {
			_, _ = c.run("pg_ctl", "-D", c.Dir, "-m", "immediate", "stop")
			if try == 4 {
				return nil, fmt.Errorf("pg_ctl start: %v: %s", err, out)
			}
			continue
		}
		return c, nil
	}
	return nil, fmt.Errorf("pg_ctl start failed")
}

// Freeze stops every process of the cluster with SIGSTOP (the server and
// each connection's backend), as a machine that hangs; thaw undoes it.
func (c *Cluster) Freeze() (thaw func(), err error) {
	pid, err := c.PostmasterPID()
	if err != nil {
		return nil, err
	}
	pids := append([]int{pid}, children(pid)...)
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGSTOP)
	}
	return func() {
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGCONT)
		}
	}, nil
}

// children are the pids whose parent is pid (from /proc).
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ")".
		rest := string(b)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// Stop stops the cluster at once.
func (c *Cluster) Stop() {
	_, _ = c.run("pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "stop")
}

// Start starts a stopped cluster again on its port.
func (c *Cluster) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.Port, c.Dir)
	out, err := c.run("pg_ctl", "-D", c.Dir, "-o", opts, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "30", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// PostmasterPID is the pid of the cluster's server process.
func (c *Cluster) PostmasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.Dir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

func (c *Cluster) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.as != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.as, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// Private starts a cluster of the test's own (to stop or freeze it), stopped
// when the test ends; it skips when PostgreSQL cannot be run here.
func Private(t testing.TB) *Cluster {
	t.Helper()
	if skip := unavailable(); skip != "" {
		t.Skipf("%s: scripts/test.sh installs PostgreSQL", skip)
	}
	dir, err := os.MkdirTemp("", "tdi-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartCluster(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("start a private PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		c.Stop()
		_ = os.RemoveAll(dir)
	})
	return c
}

// unavailable says why no cluster can be started here ("" when one can).
func unavailable() string {
	if binDir() == "" {
		return "PostgreSQL is not installed"
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			return "running as root without a postgres user"
		}
	}
	return ""
}

func startCluster() (url, skip string, err error) {
	if skip := unavailable(); skip != "" {
		return "", skip, nil
	}
	dir, err := os.MkdirTemp("", "tdi-pg-")
	if err != nil {
		return "", "", err
	}
	c, err := StartCluster(dir)
	if err != nil {
		return "", "", err
	}
	// The cluster outlives the tests of this binary: stop it when the
	// process ends (a test binary has no hook after its last test, so a
	// watcher does it).
	watchParent(c, dir)
	return c.URL(), "", nil
}

// watchParent stops the cluster when this process exits: a small shell
// waits for our pid to go away.
func watchParent(c *Cluster, dir string) {
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; ", os.Getpid())
	stop := filepath.Join(c.bin, "pg_ctl") + " -D " + c.Dir + " -m immediate stop"
	if c.as != "" {
		stop = "runuser -u " + c.as + " -- " + stop
	}
	cmd := exec.Command("sh", "-c", script+stop+" >/dev/null 2>&1; rm -rf "+dir)
	cmd.Dir = "/"
	_ = cmd.Start()
	go func() { _ = cmd.Wait() }()
}

func binDir() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

func freePort() int {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			continue
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		return p
	}
}

// Exec runs statements on a database as its owner (to change data under a
// running test).
func Exec(t testing.TB, url string, statements ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, s := range statements {
			if _, err := db.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range statements {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

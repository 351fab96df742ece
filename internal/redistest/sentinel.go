package redistest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/talkdesk-intercom/api/internal/process"
)

// StartSentinel runs a private master and one Sentinel watching it under
// the name master, until the test ends. It returns the Sentinel's address.
func StartSentinel(t testing.TB, master string) (sentinelAddr string, m *Server) {
	t.Helper()
	m = Start(t)
	bin := m.bin
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	// A Sentinel rewrites its configuration file: it must be its own.
	body := "port " + strconv.Itoa(port) + "\nbind 127.0.0.1\ndir " + dir + "\n" +
		"sentinel monitor " + master + " 127.0.0.1 " + strconv.Itoa(m.port) + " 1\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel", "--logfile", filepath.Join(dir, "sentinel.log"))
	process.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server --sentinel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sentinelAddr = "127.0.0.1:" + strconv.Itoa(port)
	waitPing(t, sentinelAddr)
	return sentinelAddr, m
}

package redistest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A killed master's replica takes over and the data written before is there.
func TestClusterFailover(t *testing.T) {
	c := StartCluster(t)
	client := ClusterClient(t, c.Addrs)
	ctx := context.Background()
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(c.dir, "*", "redis.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
		}
	})
	if err := client.Set(ctx, "{ws}:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	killed := c.KillMasterOf(t, "{ws}:k")
	// The client learns the new topology from its first failed calls.
	var got string
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = client.Get(ctx, "{ws}:k").Result(); err == nil {
			break
		}
	}
	if err != nil || got != "v" {
		t.Errorf("after failover: %q, %v", got, err)
	}
	if c.MasterOf(t, "{ws}:k") == killed {
		t.Error("the killed master still serves the slot")
	}
}

// A program without a test starts the same servers and cluster, and Close
// leaves nothing behind.
func TestLaunch(t *testing.T) {
	SkipShort(t) // Launch is for programs: it has no test to skip
	s, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	if err := Client(t, s.Addr).Ping(context.Background()).Err(); err != nil {
		t.Errorf("ping the launched server: %v", err)
	}
	s.Close()
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s behind (%v)", s.dir, err)
	}
	if ping(s.Addr, 100*time.Millisecond) == nil {
		t.Error("the server answers after Close")
	}

	c, err := LaunchCluster()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client := ClusterClient(t, c.Addrs)
	if err := client.Set(ctx, "{launch}:k", "v", 0).Err(); err != nil {
		t.Errorf("write to the launched cluster: %v", err)
	}
	c.Close()
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s behind (%v)", c.dir, err)
	}
	for _, a := range c.Addrs {
		if ping(a, 100*time.Millisecond) == nil {
			t.Errorf("node %s answers after Close", a)
		}
	}
}

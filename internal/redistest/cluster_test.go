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

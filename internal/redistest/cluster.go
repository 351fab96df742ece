package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/talkdesk-intercom/api/internal/process"
)

// Cluster is a private Redis Cluster of 3 masters, each with one replica,
// from Debian's redis-server, stopped when the test ends (or, from
// LaunchCluster, when Close is called).
type Cluster struct {
	// Addrs are every node's address, masters first; any is a seed.
	Addrs  []string
	t      testing.TB // nil for a cluster from LaunchCluster
	dir    string
	ownDir bool // Close removes dir (LaunchCluster made it)
	mu     sync.Mutex
	nodes  map[string]*exec.Cmd // by address; nil once killed
}

// ClusterAddrs returns the seed addresses of a Redis Cluster the test may
// use: TEST_REDIS_CLUSTER_ADDRS (comma-separated, started by scripts/test.sh)
// or a private one. Tests share it: namespace keys, never flush.
func ClusterAddrs(t testing.TB) []string {
	t.Helper()
	SkipShort(t)
	if v := os.Getenv("TEST_REDIS_CLUSTER_ADDRS"); v != "" {
		return strings.Split(v, ",")
	}
	return StartCluster(t).Addrs
}

// StartCluster starts a private cluster. Ports are at most 55535: a node's
// cluster bus listens on its port + 10000.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	SkipShort(t)
	bin := serverBin(t)
	cli, err := findCLI(bin)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, nodes: map[string]*exec.Cmd{}}
	t.Cleanup(c.stop)
	c.dir = t.TempDir()
	if err := c.launch(bin, cli); err != nil {
		t.Fatal(err)
	}
	return c
}

// LaunchCluster starts a private cluster, as StartCluster does, for a
// program that has no test: the caller must Close it.
func LaunchCluster() (*Cluster, error) {
	bin, err := findServerBin()
	if err != nil {
		return nil, err
	}
	cli, err := findCLI(bin)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, ownDir: true, nodes: map[string]*exec.Cmd{}}
	if err := c.launch(bin, cli); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close stops every node and, for a cluster from LaunchCluster, removes its
// files.
func (c *Cluster) Close() {
	c.stop()
	if c.ownDir {
		_ = os.RemoveAll(c.dir)
	}
}

// findCLI is the redis-cli beside bin, or the one on PATH.
func findCLI(bin string) (string, error) {
	cli := filepath.Join(filepath.Dir(bin), "redis-cli")
	if _, err := os.Stat(cli); err == nil {
		return cli, nil
	}
	if cli, err := exec.LookPath("redis-cli"); err == nil {
		return cli, nil
	}
	return "", errors.New("a Redis Cluster needs redis-cli (Debian's redis-tools)")
}

// launch starts the six nodes in c.dir, creates the cluster and waits until
// it is healthy. The nodes it started are c's to stop, also when it fails.
func (c *Cluster) launch(bin, cli string) error {
	ports, err := pickClusterPorts(6)
	if err != nil {
		return err
	}
	for _, port := range ports {
		p := strconv.Itoa(port)
		nodeDir := filepath.Join(c.dir, p)
		if err := os.Mkdir(nodeDir, 0o755); err != nil {
			return err
		}
		// appendonly: idempotency records must survive a node's restart;
		// a short node timeout makes a killed master's failover quick.
		cmd := exec.Command(bin, "--port", p, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-"+p+".conf", "--cluster-node-timeout", "1000",
			"--appendonly", "yes", "--save", "", "--repl-diskless-sync-delay", "0", "--dir", nodeDir, "--logfile", filepath.Join(nodeDir, "redis.log"))
		process.DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start redis-server: %w", err)
		}
		addr := "127.0.0.1:" + p
		c.Addrs = append(c.Addrs, addr)
		c.mu.Lock()
		c.nodes[addr] = cmd
		c.mu.Unlock()
	}
	for _, addr := range c.Addrs {
		if err := ping(addr, 10*time.Second); err != nil {
			return err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	return c.awaitHealthy(30 * time.Second)
}

// clusterPorts finds n free ports whose bus ports (+10000) are free too.
func clusterPorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := pickClusterPorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

func pickClusterPorts(n int) ([]int, error) {
	var ports []int
	taken := map[int]bool{}
	for tries := 0; len(ports) < n && tries < 1000; tries++ {
		p := 20000 + rand.IntN(35535-20000)
		if taken[p] || taken[p+10000] || !portFree(p) || !portFree(p+10000) {
			continue
		}
		taken[p], taken[p+10000] = true, true
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, errors.New("no free ports for a Redis Cluster")
	}
	return ports, nil
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

func waitPing(t testing.TB, addr string) {
	t.Helper()
	if err := ping(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// waitHealthy waits until every live node reports cluster_state:ok and
// agrees that each slot range has a live master.
func (c *Cluster) waitHealthy(within time.Duration) {
	if c.t != nil {
		c.t.Helper()
	}
	if err := c.awaitHealthy(within); err != nil && c.t != nil {
		c.t.Fatal(err)
	}
}

// awaitHealthy is waitHealthy that returns an error.
func (c *Cluster) awaitHealthy(within time.Duration) error {
	var last string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if last = c.health(); last == "" {
			return nil
		}
	}
	return fmt.Errorf("the Redis Cluster is not healthy: %s", last)
}

func (c *Cluster) health() string {
	ctx := context.Background()
	for _, addr := range c.live() {
		n := redis.NewClient(&redis.Options{Addr: addr})
		defer n.Close()
		info, err := n.ClusterInfo(ctx).Result()
		if err != nil {
			return addr + ": " + err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return addr + ": cluster_state not ok"
		}
		// A replica that has not synced with its master could not take
		// over from it: wait for every link to be up.
		repl, err := n.Info(ctx, "replication").Result()
		if err != nil {
			return addr + ": " + err.Error()
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return addr + ": the replica's link to its master is down"
		}
	}
	return ""
}

func (c *Cluster) live() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.Addrs {
		if c.nodes[a] != nil {
			out = append(out, a)
		}
	}
	return out
}

// MasterOf returns the address of the master serving key's slot.
func (c *Cluster) MasterOf(t testing.TB, key string) string {
	t.Helper()
	if addr := c.masterOf(key); addr != "" {
		return addr
	}
	t.Fatalf("no master serves the slot of %q", key)
	return ""
}

func (c *Cluster) masterOf(key string) string {
	ctx := context.Background()
	for _, addr := range c.live() {
		n := redis.NewClient(&redis.Options{Addr: addr})
		slots, err := n.ClusterSlots(ctx).Result()
		slot, err2 := n.ClusterKeySlot(ctx, key).Result()
		_ = n.Close()
		if err != nil || err2 != nil {
			continue
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				return s.Nodes[0].Addr
			}
		}
	}
	return ""
}

// KillMasterOf kills (as a crash would) the master serving key's slot and
// returns once its replica has taken over and the cluster is healthy again.
func (c *Cluster) KillMasterOf(t testing.TB, key string) string {
	t.Helper()
	addr := c.MasterOf(t, key)
	c.Kill(addr)
	var health string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if health = c.health(); health == "" {
			if m := c.masterOf(key); m != "" && m != addr {
				return addr
			}
		}
	}
	t.Fatalf("no replica took over from %s: %s, master %s", addr, health, c.masterOf(key))
	return ""
}

// Kill stops one node without warning.
func (c *Cluster) Kill(addr string) {
	c.mu.Lock()
	cmd := c.nodes[addr]
	c.nodes[addr] = nil
	c.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func (c *Cluster) stop() {
	for _, a := range c.Addrs {
		c.Kill(a)
	}
}

// ClusterClient returns a go-redis Cluster client over addrs, closed when
// the test ends.
func ClusterClient(t testing.TB, addrs []string) redis.UniversalClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ClusterURL is REDIS_URL for a cluster over addrs, in go-redis's form.
func ClusterURL(addrs []string) string {
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += fmt.Sprintf("%saddr=%s", sep, a)
	}
	if len(addrs) == 1 {
		u += "?cluster=true"
	}
	return u
}

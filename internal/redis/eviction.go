package redis

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// Eviction is what a Redis server does when it reaches its memory limit.
type Eviction struct {
	Addr      string // the node that said so (a Cluster has several)
	MaxMemory int64  // bytes; 0 is no limit
	Policy    string // maxmemory-policy: noeviction, allkeys-lru, volatile-lru, …
}

// Evicts reports whether the node may delete keys the service keeps
// durably: every key the service writes has a TTL, so any policy but
// noeviction (allkeys-* and volatile-* alike) can drop an idempotency
// record to make room for other data once maxmemory is reached.
func (e Eviction) Evicts() bool { return e.MaxMemory > 0 && e.Policy != "noeviction" }

func (e Eviction) String() string {
	return fmt.Sprintf("%s: maxmemory %d bytes, maxmemory-policy %s", e.Addr, e.MaxMemory, e.Policy)
}

// EvictionPolicies reads maxmemory and maxmemory-policy from every node
// that holds keys (each master of a Cluster). It reads INFO memory rather
// than CONFIG GET: managed Redis services often disable CONFIG.
func EvictionPolicies(ctx context.Context, client goredis.UniversalClient) ([]Eviction, error) {
	read := func(ctx context.Context, c *goredis.Client) (Eviction, error) {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return Eviction{}, err
		}
		e := Eviction{Addr: c.Options().Addr}
		sc := bufio.NewScanner(strings.NewReader(info))
		for sc.Scan() {
			name, value, _ := strings.Cut(strings.TrimSpace(sc.Text()), ":")
			switch name {
			case "maxmemory":
				e.MaxMemory, _ = strconv.ParseInt(value, 10, 64)
			case "maxmemory_policy":
				e.Policy = value
			}
		}
		if e.Policy == "" {
			return e, fmt.Errorf("%s: INFO memory gave no maxmemory_policy", e.Addr)
		}
		return e, nil
	}
	switch c := client.(type) {
	case *goredis.ClusterClient:
		var (
			mu  sync.Mutex
			out []Eviction
		)
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			e, err := read(ctx, node)
			if err != nil {
				return err
			}
			mu.Lock()
			out = append(out, e)
			mu.Unlock()
			return nil
		})
		return out, err
	case *goredis.Client: // one node, or Sentinel's current master
		e, err := read(ctx, c)
		if err != nil {
			return nil, err
		}
		return []Eviction{e}, nil
	default:
		return nil, fmt.Errorf("cannot read the eviction policy of a %T", client)
	}
}

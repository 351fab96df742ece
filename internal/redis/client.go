// Package redis is the service's one door to Redis: REDIS_URL and its
// topologies (one node, Cluster, Sentinel, TLS, ACL users), the client, the
// watch that bounds every call by REDIS_TIMEOUT and skips Redis while it is
// away (Health), and the names of everything the service keeps in Redis
// (keys.go). A fleet shares through Redis only, so those names are the
// contract between replicas of different releases.
package redis

import (
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Open builds a client from REDIS_URL (one node, a Cluster or Sentinel: see
// ParseURL; cluster is REDIS_CLUSTER) whose every call, dials and waits for
// a pooled connection included, is bounded by the deadline of its context:
// go-redis honours a context's deadline only with ContextTimeoutEnabled, and
// otherwise waits out its own socket timeouts. timeout (REDIS_TIMEOUT) is
// also the socket timeout, for a call without one.
func Open(url string, cluster bool, timeout time.Duration) (goredis.UniversalClient, error) {
	opts, err := ParseURL(url, cluster)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = timeout
	opts.ReadTimeout = timeout
	opts.WriteTimeout = timeout
	opts.PoolTimeout = timeout
	opts.PoolSize = 64
	// No sleep between go-redis's own retries: its backoff (up to 170 ms
	// over a Cluster's TRYAGAIN while a slot migrates, 8–512 ms after a
	// network error) is longer than REDIS_TIMEOUT, so the call would time
	// out, Redis be taken for away, and the cache store's own fallback (key
	// by key while a slot migrates) never run.
	opts.MinRetryBackoff = -1
	return NewClient(opts), nil
}

// defaultTimeout bounds a Redis call when REDIS_TIMEOUT is not given.
const defaultTimeout = 100 * time.Millisecond

// clusterStateReload is how old a Cluster client's map of slots may grow
// before it is read again (go-redis: a minute). A killed master is only
// noticed by reading the map again, not by failing to dial it: until then
// every call of its slots fails, so the map is kept fresh.
const clusterStateReload = time.Second

// NewClient builds the client of options from ParseURL.
func NewClient(opts *goredis.UniversalOptions) goredis.UniversalClient {
	if opts.MasterName == "" && (opts.IsClusterMode || len(opts.Addrs) > 1) {
		co := opts.Cluster()
		co.ClusterStateReloadInterval = clusterStateReload
		return goredis.NewClusterClient(co)
	}
	return goredis.NewUniversalClient(opts)
}

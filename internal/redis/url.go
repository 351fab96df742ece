package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ParseURL turns REDIS_URL into the options of a go-redis
// UniversalClient. The forms (README, "Running several replicas"):
//
//	redis://[user:pass@]host:6379[/db]                    one node
//	redis://[user:pass@]h1:7000?addr=h2:7001&addr=h3:7002 a Cluster (more than one address,
//	                                                      or cluster=true for a one-address seed)
//	redis-sentinel://[user:pass@]s1:26379,s2:26379/master[?db=0&sentinel_username=u&sentinel_password=p]
//	                                                      the master named by Sentinel
//
// rediss:// and rediss-sentinel:// use TLS. The user and password are the
// ACL user of the data nodes; a Sentinel's own credentials, when it has
// any, are the sentinel_* parameters. Unknown parameters are refused rather
// than ignored. No error repeats the URL: it may hold a password.
func ParseURL(rawURL string, cluster bool) (*goredis.UniversalOptions, error) {
	rawURL, hosts := sentinelHosts(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL") // url's error repeats the URL
	}
	if hosts != "" {
		u.Host = hosts
	}
	secret, _ := u.User.Password()
	opts, err := options(u, cluster)
	if err != nil {
		return nil, redact(err, secret, u.Query().Get("sentinel_password"))
	}
	return opts, nil
}

func options(u *url.URL, cluster bool) (*goredis.UniversalOptions, error) {
	q := u.Query()
	o := &goredis.UniversalOptions{ClientName: q.Get("client_name")}
	o.Username = u.User.Username()
	o.Password, _ = u.User.Password()
	var tlsOn bool
	switch u.Scheme {
	case "rediss", "rediss-sentinel":
		tlsOn = true
	case "redis", "redis-sentinel":
	default:
		return nil, fmt.Errorf("the scheme %q is not redis, rediss, redis-sentinel or rediss-sentinel", u.Scheme)
	}
	for _, name := range []string{"cluster", "read_only", "route_by_latency", "route_randomly"} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%q is not true or false", name, v)
			}
			switch name {
			case "cluster":
				cluster = cluster || b
			case "read_only":
				o.ReadOnly = b
			case "route_by_latency":
				o.RouteByLatency = b
			case "route_randomly":
				o.RouteRandomly = b
			}
		}
	}
	allowed := map[string]bool{"client_name": true, "cluster": true, "read_only": true, "route_by_latency": true, "route_randomly": true, "db": true}

	if strings.HasSuffix(u.Scheme, "-sentinel") {
		for _, name := range []string{"sentinel_username", "sentinel_password"} {
			allowed[name] = true
		}
		o.SentinelUsername, o.SentinelPassword = q.Get("sentinel_username"), q.Get("sentinel_password")
		o.MasterName = strings.Trim(u.Path, "/")
		if o.MasterName == "" || strings.Contains(o.MasterName, "/") {
			return nil, errors.New("a redis-sentinel URL names the master in its path: redis-sentinel://host:26379/mymaster")
		}
		for _, h := range strings.Split(u.Host, ",") {
			addr, err := hostPort(h, "26379")
			if err != nil {
				return nil, err
			}
			o.Addrs = append(o.Addrs, addr)
		}
	} else {
		allowed["addr"] = true
		addr, err := hostPort(u.Host, "6379")
		if err != nil {
			return nil, err
		}
		o.Addrs = []string{addr}
		for _, a := range q["addr"] {
			addr, err := hostPort(a, "")
			if err != nil {
				return nil, err
			}
			o.Addrs = append(o.Addrs, addr)
		}
		if db := strings.Trim(u.Path, "/"); db != "" {
			if q.Has("db") {
				return nil, errors.New("the database is given twice: in the path and as db=")
			}
			q.Set("db", db)
		}
		// go-redis makes a Cluster of more than one address; say so here
		// too, so that a one-address seed with cluster=true is one as well.
		o.IsClusterMode = cluster || len(o.Addrs) > 1
	}
	if v := q.Get("db"); v != "" {
		db, err := strconv.Atoi(v)
		if err != nil || db < 0 {
			return nil, fmt.Errorf("the database %q is not a number", v)
		}
		o.DB = db
	}
	if o.IsClusterMode && o.DB != 0 {
		return nil, errors.New("a Redis Cluster has only database 0")
	}
	for name := range q {
		if !allowed[name] {
			return nil, fmt.Errorf("unknown parameter %q", name)
		}
	}
	if tlsOn {
		host, _, _ := net.SplitHostPort(o.Addrs[0])
		o.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// sentinelHosts takes the comma-separated hosts out of a sentinel URL,
// which url.Parse refuses ("s1:26379,s2" has no valid port), leaving one
// placeholder host in their place.
func sentinelHosts(raw string) (string, string) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || !strings.HasSuffix(scheme, "-sentinel") {
		return raw, ""
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	at := strings.LastIndex(authority, "@") + 1
	if authority[at:] == "" {
		return raw, ""
	}
	return scheme + "://" + authority[:at] + "sentinels" + rest[end:], authority[at:]
}

// hostPort checks one address, adding def as its port when it has none.
func hostPort(hp, def string) (string, error) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil && def != "" {
		host, port, err = hp, def, nil
		if strings.HasPrefix(hp, "[") && strings.HasSuffix(hp, "]") {
			host = hp[1 : len(hp)-1]
		}
	}
	if err != nil || host == "" || strings.ContainsAny(host, "/@?#[]") {
		return "", fmt.Errorf("the address %q is not host:port", hp)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("the port of %q is not a number from 1 to 65535", hp)
	}
	return net.JoinHostPort(host, port), nil
}

// redact removes secrets from an error's text.
func redact(err error, secrets ...string) error {
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return errors.New(msg)
}

// FailsOver reports whether REDIS_URL names a topology where a replica takes
// over from a dead master (a Cluster, Sentinel): worth waiting a few seconds
// for, where a single node's death is not.
func FailsOver(url string, cluster bool) bool {
	opts, err := ParseURL(url, cluster)
	return err == nil && (opts.MasterName != "" || opts.IsClusterMode || len(opts.Addrs) > 1)
}

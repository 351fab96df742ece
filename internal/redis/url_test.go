package redis

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	type want struct {
		addrs              []string
		cluster            bool
		master             string
		user, pass         string
		sentUser, sentPass string
		db                 int
		tls                bool
	}
	tests := []struct {
		name    string
		url     string
		cluster bool // REDIS_CLUSTER
		want    want
	}{
		{"one node", "redis://localhost:6379/0", false, want{addrs: []string{"localhost:6379"}}},
		{"default port and a database", "redis://cache.internal/3", false, want{addrs: []string{"cache.internal:6379"}, db: 3}},
		{"database as a parameter", "redis://h:1?db=2", false, want{addrs: []string{"h:1"}, db: 2}},
		{"password only", "redis://:s3cret@h:6380", false, want{addrs: []string{"h:6380"}, pass: "s3cret"}},
		{"ACL user over TLS", "rediss://app:s3cret@h:6380", false, want{addrs: []string{"h:6380"}, user: "app", pass: "s3cret", tls: true}},
		{"cluster by addresses", "redis://app:pw@h1:7000?addr=h2:7001&addr=h3:7002", false,
			want{addrs: []string{"h1:7000", "h2:7001", "h3:7002"}, cluster: true, user: "app", pass: "pw"}},
		{"cluster seed by REDIS_CLUSTER", "rediss://h1:7000", true, want{addrs: []string{"h1:7000"}, cluster: true, tls: true}},
		{"cluster seed by parameter", "redis://h1:7000?cluster=true", false, want{addrs: []string{"h1:7000"}, cluster: true}},
		{"sentinel", "redis-sentinel://app:pw@s1:26379,s2:26380,s3/mymaster?db=1", false,
			want{addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, master: "mymaster", user: "app", pass: "pw", db: 1}},
		{"sentinel with its own credentials over TLS", "rediss-sentinel://s1:26379/m?sentinel_username=su&sentinel_password=sp", false,
			want{addrs: []string{"s1:26379"}, master: "m", sentUser: "su", sentPass: "sp", tls: true}},
		{"IPv6", "redis://[::1]:6379", false, want{addrs: []string{"[::1]:6379"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseURL(tt.url, tt.cluster)
			if err != nil {
				t.Fatal(err)
			}
			got := want{addrs: o.Addrs, cluster: o.IsClusterMode, master: o.MasterName, user: o.Username, pass: o.Password,
				sentUser: o.SentinelUsername, sentPass: o.SentinelPassword, db: o.DB, tls: o.TLSConfig != nil}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseURLRefusesWithoutEchoingSecrets(t *testing.T) {
	tests := []struct{ name, url string }{
		{"other scheme", "http://:hunter2@h:6379"},
		{"bad port", "redis://:hunter2@h:99999"},
		{"not a URL", "redis://:hunter2@h:6379/%zz"},
		{"cluster with a database", "redis://:hunter2@h1:1/2?addr=h2:2"},
		{"unknown parameter", "redis://:hunter2@h:1?dial_timeout=hunter2"},
		{"bad addr", "redis://:hunter2@h:1?addr=hunter2"},
		{"sentinel without a master", "redis-sentinel://:hunter2@s1:26379"},
		{"sentinel password in an error", "redis-sentinel://s1:26379/m?sentinel_password=hunter2&db=hunter2"},
		{"database given twice", "redis://:hunter2@h:1/1?db=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseURL(tt.url, false)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

// A Cluster or Sentinel has a replica to take over; one node does not; a
// URL that does not parse fails over to nothing.
func TestFailsOver(t *testing.T) {
	for _, tt := range []struct {
		url     string
		cluster bool
		want    bool
	}{
		{"redis://h:6379", false, false},
		{"redis://h:6379", true, true},
		{"redis://h1:7000?addr=h2:7001", false, true},
		{"redis-sentinel://s1:26379/m", false, true},
		{"http://h:6379", false, false},
	} {
		if got := FailsOver(tt.url, tt.cluster); got != tt.want {
			t.Errorf("FailsOver(%q, %v) = %v, want %v", tt.url, tt.cluster, got, tt.want)
		}
	}
}

package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the configuration table of docs/configuration.md from the settings")

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	var out bytes.Buffer
	c, err := Load(args, func(k string) string { return env[k] }, &out)
	if out.Len() > 0 && !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Load printed %q; only --help prints", out.String())
	}
	return c, err
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":8080" || c.Cache.TTL.Phone != 5*time.Minute || c.Cache.TTL.Email != c.Cache.TTL.Contact || c.Intercom.Client.BaseURL != "https://api.intercom.io" || c.HTTP.MaxBodyBytes != 262144 ||
		c.Cache.TTL.StaleFor != 24*time.Hour || !c.GraphQL.Playground || c.Tenants.MultiTenant || c.Actions.CallLogAs != "note" || c.HTTP.CORSOrigins != nil {
		t.Errorf("defaults = %+v", c)
	}
}

func TestFlagWinsOverVariable(t *testing.T) {
	c, err := load(t, []string{"--loader-max-batch=7", "--cors-origins", " a, ,b "},
		map[string]string{"LOADER_MAX_BATCH": "9", "TALKDESK_PAGE_SIZE": "150", "INTERCOM_REGION": " EU "})
	if err != nil {
		t.Fatal(err)
	}
	if c.Loaders.MaxBatch != 7 || c.Talkdesk.PageSize != 150 || c.Intercom.Client.BaseURL != "https://api.eu.intercom.io" ||
		strings.Join(c.HTTP.CORSOrigins, "|") != "a|b" {
		t.Errorf("got %+v", c)
	}
}

// An error names the setting as the user wrote it: the flag when it came
// from a flag, the variable otherwise.
func TestErrorsNameTheSettingAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"port not a number", nil, map[string]string{"ADDR": ":abc"}, []string{`ADDR: ":abc" is not host:port (e.g. :8080)`}},
		{"no port", []string{"--addr=localhost"}, nil, []string{`--addr: "localhost" is not host:port`}},
		{"duration by flag", []string{"--intercom-timeout", "0s"}, nil, []string{`--intercom-timeout: "0s" is not a positive duration`}},
		{"duration by variable", nil, map[string]string{"LOADER_WAIT": "-1s"}, []string{`LOADER_WAIT: "-1s" is not a duration of 0 or more`}},
		{"range", nil, map[string]string{"TALKDESK_PAGE_SIZE": "151"}, []string{`TALKDESK_PAGE_SIZE: "151" is not a number from 1 to 150`}},
		{"one of", []string{"--call-log-as=email"}, nil, []string{`--call-log-as: "email" is not note or ticket`}},
		{"boolean", nil, map[string]string{"PLAYGROUND": "yes"}, []string{`PLAYGROUND: "yes" is not true or false`}},
		{"bytes", nil, map[string]string{"MAX_BODY_BYTES": "10"}, []string{`MAX_BODY_BYTES: "10" is not a number of bytes of at least 1024`}},
		{"version", nil, map[string]string{"INTERCOM_VERSION": "2"}, []string{`INTERCOM_VERSION: "2" is not an Intercom API version such as 2.16`}},
		{"base url", nil, map[string]string{"INTERCOM_BASE_URL": "ftp://x"}, []string{`INTERCOM_BASE_URL: "ftp://x" is not an http(s) URL`}},
		{"public url", nil, map[string]string{"PUBLIC_BASE_URL": "https://x/?a"}, []string{`PUBLIC_BASE_URL: "https://x/?a" is not an http(s) URL such as https://bridge.example.com`}},
		{"ticket type", []string{"--call-log-as=ticket"}, nil, []string{`CALL_TICKET_TYPE: is required when --call-log-as=ticket`}},
		{"persisted", nil, map[string]string{"PERSISTED_OPERATIONS_ONLY": "true"}, []string{`PERSISTED_OPERATIONS_FILE: is required when PERSISTED_OPERATIONS_ONLY=true`}},
		{"cost budget below the costliest operation", []string{"--cost-maximum-available=1000"}, nil, []string{`--cost-maximum-available: 1000 is less than MAX_QUERY_COMPLEXITY (20000): the costliest operation allowed could never run`}},
		{"all at once", []string{"--log-level=loud"}, map[string]string{"INTERCOM_REGION": "mars"}, []string{`"mars" is not us, eu or au`, `--log-level: "loud" is not debug, info, warn or error`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRedisURLIsNotEchoed(t *testing.T) {
	_, err := load(t, nil, map[string]string{"REDIS_URL": "http://:hunter2@host"})
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v", err)
	}
}

func TestRedisURLForms(t *testing.T) {
	for _, v := range []string{
		"redis://localhost:6379/0",
		"rediss://app:hunter2@cache.internal:6380",
		"redis://h1:7000?addr=h2:7001&addr=h3:7002",
		"redis-sentinel://app:hunter2@s1:26379,s2:26379/mymaster?db=0",
		"rediss-sentinel://s1:26379/mymaster?sentinel_password=hunter2",
	} {
		if c, err := load(t, nil, map[string]string{"REDIS_URL": v, "REDIS_CLUSTER": "true"}); err != nil || c.Redis.URL != v || !c.Redis.Cluster {
			t.Errorf("REDIS_URL=%s: %v", v, err)
		}
	}
	for _, v := range []string{
		"redis://:hunter2@h1:7000/1?addr=h2:7001", // a Cluster has only database 0
		"redis-sentinel://:hunter2@s1:26379",      // no master name
		"redis://:hunter2@h:6379?hunter2=1",
	} {
		_, err := load(t, nil, map[string]string{"REDIS_URL": v})
		if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("REDIS_URL=%s: error = %v", v, err)
		}
	}
}

func TestListenAddrAcceptsWhatListenAccepts(t *testing.T) {
	for _, addr := range []string{":8080", "127.0.0.1:0", "[::1]:9000", "localhost:65535"} {
		if c, err := load(t, nil, map[string]string{"ADDR": addr}); err != nil || c.HTTP.Addr != addr {
			t.Errorf("ADDR=%s: %v", addr, err)
		}
	}
	for _, addr := range []string{":abc", ":65536", ":-1", "8080", "host:"} {
		if _, err := load(t, nil, map[string]string{"ADDR": addr}); err == nil && addr != "host:" {
			t.Errorf("ADDR=%s accepted", addr)
		}
	}
}

// `go run . bench` was the benchmark once: it is answered with the command
// that runs it now, not a bare refusal.
func TestBenchArgumentPointsToTheBenchmark(t *testing.T) {
	_, err := load(t, []string{"bench"}, nil)
	if err == nil || !strings.Contains(err.Error(), "go run ./cmd/bench") {
		t.Errorf("bench: error %q, want a hint to go run ./cmd/bench", err)
	}
	_, err = load(t, []string{"serve"}, nil)
	if err == nil || !strings.Contains(err.Error(), `unexpected argument "serve"`) {
		t.Errorf("serve: error %q, want an unexpected argument", err)
	}
}

func TestUnknownFlagSuggestsTheNearest(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"--adr=:1", "unknown flag --adr (did you mean --addr?)"},
		{"--intercom-tokn=x", "did you mean --intercom-token?"},
		{"--INTERCOM_TOKEN=x", "did you mean --intercom-token?"},
		{"-playgroud", "unknown flag --playgroud (did you mean --playground?)"},
		{"--zzzzzzzzzzzz", "unknown flag --zzzzzzzzzzzz\n"},
		{"--addr", "flag --addr needs a value"},
	} {
		_, err := load(t, []string{tc.arg}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), Usage) {
			t.Errorf("%s: error %q, want %q and the usage line", tc.arg, err, tc.want)
		}
	}
}

func TestHelpPrintsEverySettingWithoutMarkdown(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range settings(new(Config)) {
		if !strings.Contains(out.String(), "--"+s.flag+", $"+s.env+" (default ") {
			t.Errorf("--help does not list %s", s.env)
		}
	}
	if strings.Contains(out.String(), "`") {
		t.Error("--help shows Markdown backticks")
	}
}

func TestEverySettingIsNamedOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range settings(new(Config)) {
		if seen[s.env] || seen[s.flag] {
			t.Errorf("%s / --%s appears twice", s.env, s.flag)
		}
		seen[s.env], seen[s.flag] = true, true
		if want := strings.ReplaceAll(strings.ToLower(s.env), "_", "-"); s.flag != want {
			t.Errorf("%s has the flag --%s, want --%s", s.env, s.flag, want)
		}
		if s.parse == nil || s.usage == "" {
			t.Errorf("%s has no parser or no usage", s.env)
		}
	}
}

// The configuration page's table is written by Markdown from the settings;
// -update rewrites it.
func TestDocsTableIsTheSettings(t *testing.T) {
	const path = "../../docs/configuration.md"
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(page, []byte("| Variable | Flag | Default | Meaning |\n"))
	if start < 0 {
		t.Fatal(path + " has no configuration table")
	}
	end := start + bytes.Index(page[start:], []byte("\n\n")) + 1
	var want bytes.Buffer
	Markdown(&want)
	if got := string(page[start:end]); got != want.String() {
		if *update {
			out := append(append(append([]byte{}, page[:start]...), want.Bytes()...), page[end:]...)
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf(path+"'s configuration table differs from the settings; run go test ./internal/config -update\ngot:\n%s\nwant:\n%s", got, want.String())
	}
}

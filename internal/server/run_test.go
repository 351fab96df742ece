package server

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help = %v, want flag.ErrHelp", err)
	}
	for _, s := range []string{"ADDR", "INTERCOM_TOKEN", "INTERCOM_REGION", "INTERCOM_BASE_URL", "INTERCOM_VERSION",
		"INTERCOM_TIMEOUT", "LOG_LEVEL", "LOG_FORMAT", "INTROSPECTION", "MAX_BODY_BYTES", "SHUTDOWN_TIMEOUT", "(default :8080)", "(default 2.16)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("--help does not mention %s:\n%s", s, out.String())
		}
	}
}

func TestInvalidConfigurationSaysWhatIsWrong(t *testing.T) {
	env := map[string]string{"ADDR": "nonsense", "LOG_LEVEL": "loud", "INTERCOM_REGION": "mars", "INTERCOM_TOKEN": "secret-xyz"}
	var out bytes.Buffer
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &out)
	if err == nil {
		t.Fatal("run accepted an invalid configuration")
	}
	for _, s := range []string{"ADDR", "LOG_LEVEL", "INTERCOM_REGION", `"mars" is not us, eu or au`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if strings.Contains(err.Error()+out.String(), "secret-xyz") {
		t.Error("the token appears in the configuration error")
	}
}

func TestRunRejectsABadToken(t *testing.T) {
	// A token the demo emulator refuses, pointed at a running demo emulator.
	env := newTestEnv(t)
	getenv := map[string]string{"INTERCOM_TOKEN": "wrong-token-123", "INTERCOM_BASE_URL": env.Intercom.URL, "ADDR": "127.0.0.1:0"}
	var out bytes.Buffer
	err := run(context.Background(), nil, func(k string) string { return getenv[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "INTERCOM_TOKEN") {
		t.Fatalf("run with a rejected token = %v, want an INTERCOM_TOKEN error", err)
	}
	if strings.Contains(err.Error()+out.String(), "wrong-token-123") {
		t.Error("the token appears in the error or logs")
	}
}

// The serve command as a newcomer runs it: no token, demo workspace, a caller
// lookup over HTTP, then a graceful stop.
func TestRunServesTheDemoWorkspace(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncWriter{w: &bytes.Buffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", addr}, func(string) string { return "" }, io.MultiWriter(out, suiteLog(t)))
	}()
	waitReady(t, "http://"+addr+"/healthz")

	body := `{"query":"{ contactsByPhone(phone: \"(415) 555-0142\", defaultCountry: \"US\") { name phone } }"}`
	resp, err := http.Post("http://"+addr+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(resp.Body)
	resp.Body.Close()
	// Then what it cost (extensions.cost).
	if want := `{"data":{"contactsByPhone":[{"name":"Maria Garcia","phone":"+14155550142"}]},"extensions":{"cost":{`; !strings.HasPrefix(got.String(), want) {
		t.Errorf("caller lookup = %s, want %s…", got.String(), want)
	}

	// A request racing the stop either completes or is refused cleanly.
	var wg sync.WaitGroup
	wg.Add(1)
	var slowStatus int
	go func() {
		defer wg.Done()
		resp, err := http.Post("http://"+addr+"/graphql", "application/json", strings.NewReader(`{"query":"{ agents { id } }"}`))
		if err == nil {
			slowStatus = resp.StatusCode
			resp.Body.Close()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	wg.Wait()
	if slowStatus != 0 && slowStatus != 200 {
		t.Errorf("in-flight request got %d", slowStatus)
	}
	for _, s := range []string{"demo workspace", "listening", "stopped"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("logs do not mention %q:\n%s", s, out.String())
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

// The configuration table of docs/configuration.md lists exactly the settings --help lists,
// with the same defaults.
func TestDocsConfigurationMatchesHelp(t *testing.T) {
	var help bytes.Buffer
	run(context.Background(), []string{"--help"}, func(string) string { return "" }, &help)
	readme, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	setting := regexp.MustCompile(`--([a-z-]+), \$([A-Z_]+) \(default ([^)]*)\)`)
	matches := setting.FindAllStringSubmatch(help.String(), -1)
	if len(matches) < 10 {
		t.Fatalf("--help lists %d settings:\n%s", len(matches), help.String())
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 4 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
		}
	}
	for _, m := range matches {
		flagName, env, def := m[1], m[2], m[3]
		line, ok := rows[env]
		if !ok {
			t.Errorf("docs/configuration.md has no row for %s", env)
			continue
		}
		if !strings.Contains(line, "`--"+flagName+"`") {
			t.Errorf("docs/configuration.md row for %s does not name --%s", env, flagName)
		}
		if def != `""` && !strings.Contains(line, "`"+def+"`") {
			t.Errorf("docs/configuration.md row for %s does not give the default %s: %s", env, def, line)
		}
	}
}

// A port that is not one is a configuration error: nothing starts.
func TestRunRefusesAPortThatIsNotANumber(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), nil, func(k string) string { return map[string]string{"ADDR": ":abc"}[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), `ADDR: ":abc" is not host:port`) {
		t.Fatalf("run with ADDR=:abc = %v, want an ADDR error", err)
	}
	if out.Len() > 0 {
		t.Errorf("run logged before refusing the configuration:\n%s", out.String())
	}
}

// INTERCOM_BASE_URL without INTERCOM_TOKEN serves the demo workspace: the
// log says the base URL is ignored.
func TestRunWarnsThatABaseURLNeedsAToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start, log, stop at once
	out := &syncWriter{w: &bytes.Buffer{}}
	env := map[string]string{"INTERCOM_BASE_URL": "http://user:hunter2@127.0.0.1:1", "ADDR": "127.0.0.1:0"}
	run(ctx, nil, func(k string) string { return env[k] }, io.MultiWriter(out, suiteLog(t)))
	if !strings.Contains(out.String(), "INTERCOM_BASE_URL is set but INTERCOM_TOKEN is not") {
		t.Errorf("logs do not warn that INTERCOM_BASE_URL is ignored:\n%s", out.String())
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("the base URL's password is logged")
	}
}

// DEBUG_ADDR serves Go's runtime profiles on a listener of their own, never
// the command line (every setting, secrets included, is also a flag), and
// the API's listener serves none of them.
func TestRunServesRuntimeProfilesOnDebugAddr(t *testing.T) {
	addr, debug := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", addr, "--debug-addr", debug, "--api-keys", "secret-key-0123456789"},
			func(string) string { return "" }, suiteLog(t))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	}()
	waitReady(t, "http://"+addr+"/healthz")
	if code, body := getStatus(t, "http://"+debug+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ on DEBUG_ADDR = %d %.200s", code, body)
	}
	if code, _ := getStatus(t, "http://"+debug+"/debug/pprof/heap?debug=1"); code != 200 {
		t.Errorf("GET /debug/pprof/heap on DEBUG_ADDR = %d, want 200", code)
	}
	if code, body := getStatus(t, "http://"+debug+"/debug/pprof/cmdline"); code != 404 || strings.Contains(body, "secret-key") {
		t.Errorf("GET /debug/pprof/cmdline on DEBUG_ADDR = %d %.200s, want 404 without the flags", code, body)
	}
	if code, _ := getStatus(t, "http://"+addr+"/debug/pprof/"); code == 200 {
		t.Errorf("the API's listener serves /debug/pprof/")
	}
}

package playground

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

// newTestServer mounts the playground as server.go does.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", Handler("Talkdesk ⇄ Intercom", "/graphql"))
	mux.Handle("GET "+AssetsPath, Assets())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// No transparent decompression: the tests look at what is sent.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var pageRefs = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

// TestPageLoadsOnlyFromThisServer: every script and style of the page is
// served by Assets, so the playground works without internet access.
func TestPageLoadsOnlyFromThisServer(t *testing.T) {
	srv := newTestServer(t)
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: HTTP %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	refs := pageRefs.FindAllStringSubmatch(string(body), -1)
	if len(refs) < 6 {
		t.Fatalf("the page refers to %d files, want GraphiQL, React, ReactDOM and the playground's own: %s", len(refs), body)
	}
	for _, m := range refs {
		ref := html.UnescapeString(m[1])
		if ref == "data:," { // no favicon request
			continue
		}
		if !strings.HasPrefix(ref, AssetsPath) {
			t.Errorf("the page loads %q, which is not below %s on this server", ref, AssetsPath)
			continue
		}
		resp, body := get(t, srv.URL+ref)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: HTTP %d, %d bytes", ref, resp.StatusCode, len(body))
		}
		wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}[path.Ext(ref)]
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, wantType) {
			t.Errorf("GET %s: Content-Type %q, want %s", ref, got, wantType)
		}
	}
}

// TestPageHoldsTheExamples: the page hands every example to GraphiQL as a
// tab, in order, with its variables.
func TestPageHoldsTheExamples(t *testing.T) {
	srv := newTestServer(t)
	_, body := get(t, srv.URL+"/")
	m := regexp.MustCompile(`(?s)<script id="playground-config" type="application/json">(.*?)</script>`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no #playground-config in the page:\n%s", body)
	}
	var cfg pageConfig
	if err := json.Unmarshal(m[1], &cfg); err != nil {
		t.Fatalf("#playground-config is not JSON: %v\n%s", err, m[1])
	}
	examples, err := Examples()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "/graphql" || len(cfg.Tabs) != len(examples) {
		t.Fatalf("got endpoint %q and %d tabs, want /graphql and %d", cfg.Endpoint, len(cfg.Tabs), len(examples))
	}
	for i, ex := range examples {
		if cfg.Tabs[i].Query != ex.Query || cfg.Tabs[i].Variables != string(ex.Variables) {
			t.Errorf("tab %d is %+v, want example %s", i, cfg.Tabs[i], ex.File)
		}
	}
	if cfg.Tabs[0].Query == "" || !strings.Contains(cfg.Tabs[0].Query, "contactsByPhone") {
		t.Errorf("the first tab is not the caller lookup: %q", cfg.Tabs[0].Query)
	}
}

func TestPageEscapesItsSettings(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(`</title><script>alert(1)</script>`, `/graphql"</script><script>alert(2)</script>`).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if body := rec.Body.String(); strings.Contains(body, "<script>alert") {
		t.Errorf("a title or endpoint breaks out of the page:\n%s", body)
	}
}

func TestAssetsCaching(t *testing.T) {
	srv := newTestServer(t)
	url := srv.URL + AssetsPath + "graphiql.min.js"
	resp, plain := get(t, url)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET: HTTP %d, ETag %q, Cache-Control %q", resp.StatusCode, etag, resp.Header.Get("Cache-Control"))
	}

	t.Run("revalidation", func(t *testing.T) {
		resp, body := get(t, url, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("got HTTP %d with %d bytes, want 304 and no body", resp.StatusCode, len(body))
		}
	})

	t.Run("gzip", func(t *testing.T) {
		resp, body := get(t, url, "Accept-Encoding", "br, gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
		}
		if resp.Header.Get("ETag") == etag {
			t.Errorf("the gzipped body has the plain body's ETag %s", etag)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain) {
			t.Errorf("the gzipped body does not decompress to the file (err %v)", err)
		}
		t.Logf("graphiql.min.js: %d bytes, %d gzipped", len(plain), len(body))
	})

	t.Run("unknown file", func(t *testing.T) {
		for _, p := range []string{"nope.js", "update.sh", "SOURCES.txt", "licenses", ""} {
			if resp, _ := get(t, srv.URL+AssetsPath+p); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s%s: HTTP %d, want 404", AssetsPath, p, resp.StatusCode)
			}
		}
	})

	t.Run("licenses", func(t *testing.T) {
		for _, name := range []string{"graphiql", "react", "react-dom", "graphql-ws"} {
			resp, body := get(t, srv.URL+AssetsPath+"licenses/"+name+".LICENSE")
			if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("MIT License")) {
				t.Errorf("the %s license is not served: HTTP %d", name, resp.StatusCode)
			}
		}
	})
}

// TestVendoredAssetsMatchSources: the vendored files are exactly what
// update.sh fetched (SOURCES.txt records their hashes), each package's
// license is kept beside them, and every file the page serves is either
// vendored or the playground's own.
func TestVendoredAssetsMatchSources(t *testing.T) {
	f, err := os.Open("assets/SOURCES.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vendored := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Fields(line) // file sha256 package@version/path license
		if len(fields) != 4 {
			t.Fatalf("SOURCES.txt: malformed line %q", line)
		}
		name, want, from := fields[0], fields[1], fields[2]
		vendored[name] = true
		body, err := fs.ReadFile(assetsFS, "assets/"+name)
		if err != nil {
			t.Errorf("%s (from %s) is listed but not embedded: %v", name, from, err)
			continue
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != want {
			t.Errorf("%s differs from %s as update.sh fetched it: run internal/playground/assets/update.sh", name, from)
		}
		pkg, _, _ := strings.Cut(from[1:], "@") // from[1:]: a scoped package starts with @
		pkg = from[:1] + pkg
		if _, err := fs.Stat(assetsFS, "assets/licenses/"+pkg+".LICENSE"); err != nil {
			t.Errorf("no license of %s beside %s", pkg, name)
		}
	}
	own := map[string]bool{"playground.js": true, "playground.css": true}
	entries, err := fs.ReadDir(assetsFS, "assets")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && !vendored[e.Name()] && !own[e.Name()] {
			t.Errorf("assets/%s is served but neither listed in SOURCES.txt nor the playground's own", e.Name())
		}
	}
}

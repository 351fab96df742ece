// Package playground serves GraphiQL, the in-browser GraphQL IDE, with the
// example operations a developer runs first preloaded in tabs.
//
// Every file the page loads is embedded in the binary and served by this
// package (see assets/update.sh for where they come from), so the playground
// works on a machine without internet access and never asks a CDN.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
)

// AssetsPath is where Assets is mounted: the page loads its scripts and
// styles from below it.
const AssetsPath = "/playground/"

//go:embed assets/*.js assets/*.css assets/licenses
var assetsFS embed.FS

// Handler serves the playground page: GraphiQL titled title, sending
// operations to endpoint (a path on this server, such as "/graphql"), with
// the example tabs of Examples. The page's assets come from Assets, mounted
// at AssetsPath.
func Handler(title, endpoint string) http.Handler {
	page, err := renderPage(title, endpoint)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		})
	}
	csp := contentSecurityPolicy(endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		page.serve(w, r)
	})
}

// Assets serves the files the page loads, below AssetsPath: GraphiQL, React,
// this package's script and style, and the vendored packages' licenses
// (AssetsPath + "licenses/").
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, AssetsPath)
		f, found := loadAssets()[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		f.serve(w, r)
	})
}

// file is an in-memory response body with its validators.
type file struct {
	body        []byte
	contentType string
	etag        string
	gzipped     func() []byte // nil when compression does not pay
}

func newFile(body []byte, contentType string) *file {
	sum := sha256.Sum256(body)
	f := &file{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if len(body) > 1024 {
		// Compressed once, on first request: GraphiQL's script and style
		// shrink from 1.4 MB to about 400 kB.
		f.gzipped = sync.OnceValue(func() []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(body) // writes to memory do not fail
			_ = zw.Close()
			return buf.Bytes()
		})
	}
	return f
}

// serve answers GET and HEAD; browsers revalidate with the ETag (no-cache),
// so a new binary's assets are picked up at once and unchanged ones cost a
// 304.
func (f *file) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	body, etag := f.body, f.etag
	if f.gzipped != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = f.gzipped(), strings.TrimSuffix(f.etag, `"`)+`-gzip"`
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

func etagMatches(header, etag string) bool {
	for candidate := range strings.SplitSeq(header, ",") {
		c := strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if c == "*" || c == etag {
			return true
		}
	}
	return false
}

var loadAssets = sync.OnceValue(func() map[string]*file {
	files := map[string]*file{}
	_ = fs.WalkDir(assetsFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetsFS.ReadFile(p)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" || strings.HasSuffix(p, ".LICENSE") {
			ctype = "text/plain; charset=utf-8"
		}
		files[strings.TrimPrefix(p, "assets/")] = newFile(body, ctype)
		return nil
	})
	return files
})

// tab is one of GraphiQL's defaultTabs.
type tab struct {
	Query     string `json:"query"`
	Variables string `json:"variables,omitempty"`
}

// pageConfig is what playground.js reads from the page.
type pageConfig struct {
	Endpoint string `json:"endpoint"`
	Tabs     []tab  `json:"tabs"`
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.Assets}}graphiql.min.css">
<link rel="stylesheet" href="{{.Assets}}playground.css">
</head>
<body>
<div id="graphiql"><p class="playground-message">Loading GraphiQL…</p></div>
<noscript><p class="playground-message">The playground needs JavaScript. Without it, send GraphQL requests to {{.Endpoint}} with curl (see examples/curl.sh).</p></noscript>
<script id="playground-config" type="application/json">{{.Config}}</script>
<script src="{{.Assets}}react.production.min.js"></script>
<script src="{{.Assets}}react-dom.production.min.js"></script>
<script src="{{.Assets}}graphiql.min.js"></script>
<script src="{{.Assets}}graphql-ws.min.js"></script>
<script src="{{.Assets}}playground.js"></script>
</body>
</html>
`))

func renderPage(title, endpoint string) (*file, error) {
	examples, err := Examples()
	if err != nil {
		return nil, err
	}
	cfg := pageConfig{Endpoint: endpoint}
	for _, ex := range examples {
		cfg.Tabs = append(cfg.Tabs, tab{Query: ex.Query, Variables: string(ex.Variables)})
	}
	var buf bytes.Buffer
	err = pageTemplate.Execute(&buf, map[string]any{
		"Title": title, "Endpoint": endpoint, "Assets": AssetsPath, "Config": cfg,
	})
	if err != nil {
		return nil, err
	}
	return newFile(buf.Bytes(), "text/html; charset=utf-8"), nil
}

// contentSecurityPolicy lets the page load only this server's scripts and
// talk only to this server (and endpoint's origin, when it is elsewhere):
// a schema's descriptions are rendered as HTML, and the playground must not
// reach the internet even by accident.
func contentSecurityPolicy(endpoint string) string {
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Scheme != "" && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self' 'unsafe-inline'", // GraphiQL's editors set inline styles
		"img-src 'self' data:",
		"font-src 'self' data:", // GraphiQL's fonts are inlined in its CSS
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/talkdesk-intercom/api/e2e"
	"github.com/talkdesk-intercom/api/internal/playground"
)

// TestPlaygroundInBrowser opens the playground of the real server in demo
// mode in headless Chromium, as a developer does, runs the example tabs and
// reads the answers off the page. The page must load nothing from outside the
// server and throw no error. On failure it keeps a screenshot and the page's
// HTML (their paths are in the log).
func TestPlaygroundInBrowser(t *testing.T) {
	chromium := findChromium(t)
	srv := e2e.Start(t)
	examples, err := playground.Examples()
	if err != nil {
		t.Fatal(err)
	}
	var operations []string
	for _, ex := range examples {
		operations = append(operations, ex.Operation)
	}
	b := newBrowserTab(t, chromium, srv.URL)

	b.do(t, "open the playground",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-container .graphiql-execute-button")),
	)
	if got := b.tabTitles(t, len(operations)); !slices.Equal(got, operations) {
		t.Errorf("got tabs %q, want one per example, titled by its operation: %q", got, operations)
	}

	t.Run("layout at 1400 px", func(t *testing.T) {
		// The browser window is 1400 px wide (newBrowserTab): every example
		// tab is on screen, not scrolled away or under a scrollbar; long
		// query lines wrap; the reset button has a name.
		hidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(() => {
			const strip = document.querySelector('.graphiql-tabs').getBoundingClientRect();
			return [...document.querySelectorAll('.graphiql-tab')].filter(tab => {
				const r = tab.getBoundingClientRect();
				const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
				const inside = r.width > 0 && r.left >= strip.left && r.right <= strip.right &&
					r.top >= strip.top && r.bottom <= strip.bottom && r.right <= innerWidth && r.bottom <= innerHeight;
				return !inside || !tab.contains(hit);
			}).map(tab => tab.querySelector('.graphiql-tab-button').textContent.trim());
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if len(hidden) > 0 {
			t.Errorf("at 1400 px these example tabs are not fully visible: %q", hidden)
		}
		overflow, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`(() => {
			const scroller = document.querySelector('.graphiql-query-editor .CodeMirror-scroll');
			return scroller.scrollWidth - scroller.clientWidth;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if overflow > 0 {
			t.Errorf("the query editor's lines run %d px past its edge, want them wrapped", overflow)
		}
		if n := b.buttonsNamed(t, resetLabel); n != 1 {
			t.Errorf("found %d buttons whose accessible name is %q, want 1", n, resetLabel)
		}
	})

	t.Run("caller lookup", func(t *testing.T) {
		// What a newcomer does: open the page and press ▶. The first tab
		// is the caller lookup, its variables filled in.
		if got, want := b.variables(t), string(examples[0].Variables); got != want {
			t.Errorf("the variables editor shows %q, want the first example's %q", got, want)
		}
		result := b.run(t, "", `"Maria Garcia"`, `"+14155550142"`)
		var answer struct {
			Data struct {
				ContactsByPhone []struct{ Name, Phone string }
			}
			Errors []any
		}
		if err := json.Unmarshal([]byte(result), &answer); err != nil {
			t.Fatalf("the result pane does not hold JSON: %v\n%s", err, result)
		}
		if got := answer.Data.ContactsByPhone; len(answer.Errors) > 0 || len(got) != 1 || got[0].Name != "Maria Garcia" || got[0].Phone != "+14155550142" {
			t.Errorf("got %s, want Maria Garcia alone, at +14155550142, without errors", result)
		}
	})

	t.Run("schema", func(t *testing.T) {
		// Introspection works through the page: the documentation explorer
		// shows the schema's description.
		b.do(t, "open the documentation explorer",
			chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.graphiql-doc-explorer`)),
		)
		b.waitFor(t, "the schema's description in the documentation explorer",
			`document.querySelector('.graphiql-doc-explorer').textContent.includes('The Talkdesk ⇄ Intercom aggregation API')`)
	})

	t.Run("agent dashboard", func(t *testing.T) {
		b.run(t, "AgentDashboard", `"Maria Garcia"`, `"Northwind Traders"`)
	})

	t.Run("reset example tabs", func(t *testing.T) {
		// GraphiQL reopens the tabs a developer left; the toolbar button
		// brings the examples back.
		b.do(t, "close the active tab (AgentDashboard) and reload",
			chromedp.Click(chromedp.CSS(`.graphiql-tab-active .graphiql-tab-close`)),
			chromedp.Sleep(700*time.Millisecond), // GraphiQL saves its tabs after a 500 ms debounce
			chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
		)
		left := slices.DeleteFunc(slices.Clone(operations), func(op string) bool { return op == "AgentDashboard" })
		if got := b.tabTitles(t, len(left)); !slices.Equal(got, left) {
			t.Fatalf("after a reload, got tabs %q, want the ones left open %q", got, left)
		}
		b.do(t, "reset the example tabs",
			chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
			chromedp.Click(chromedp.JSPath(fmt.Sprintf(
				`[...document.querySelectorAll('button')].find(b => b.textContent.trim() === %q)`, resetLabel))),
			chromedp.Sleep(500*time.Millisecond),
			chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
		)
		if got := b.tabTitles(t, len(operations)); !slices.Equal(got, operations) {
			t.Errorf("after the reset, got tabs %q, want the examples %q", got, operations)
		}
		if got, want := b.variables(t), string(examples[0].Variables); got != want {
			t.Errorf("after the reset, the variables editor shows %q, want the first example's %q", got, want)
		}
		b.do(t, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")))
		if got := b.tabTitles(t, len(operations)); !slices.Equal(got, operations) {
			t.Errorf("after another reload, got tabs %q, want the examples %q", got, operations)
		}
	})

	t.Run("live dashboard", func(t *testing.T) {
		// The subscription tab runs over a WebSocket (the bundled
		// graphql-ws client); a note added through the Talkdesk bridge
		// shows on the page by itself.
		ex := example(t, "LiveDashboard")
		var vars struct{ ID string }
		_ = json.Unmarshal(ex.Variables, &vars)
		b.do(t, "select the LiveDashboard tab",
			chromedp.Click(chromedp.JSPath(`[...document.querySelectorAll('.graphiql-tab-button')].find(tab => tab.textContent.trim() === "LiveDashboard")`)))
		b.waitFor(t, "the editor to parse LiveDashboard",
			`document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.operationName === "LiveDashboard"`)
		b.do(t, "run LiveDashboard", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
		// Until the event shows, add notes: one added before the
		// subscription started would not be seen.
		// Each note its own: the bridge takes a repeated call for a retry.
		for i := range 15 {
			note := fmt.Sprintf(`{"auth": {"token": "demo"}, "meta": {"contact_external_id": %q}, "data": {"body": "Added while the dashboard watched (%d)"}}`, vars.ID, i)
			r, err := http.Post(srv.URL+"/talkdesk/actions/add_note", "application/json", strings.NewReader(note))
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			shown, _ := chromedp.Run(b.ctx, chromedp.Poll[bool](`(() => {
				const text = document.querySelector('.result-window .CodeMirror').CodeMirror.getValue();
				return text.includes('"contactChanged"') && text.includes('"UPDATED"') && text.includes('"Maria Garcia"');
			})()`, chromedp.WithPollingTimeout(time.Second)))
			if shown {
				return
			}
		}
		shown, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('.result-window').innerText`))
		t.Fatalf("no contactChanged event on the page after notes were added; it shows: %s\n%s", shown, b.watch.report())
	})

	if problems := b.watch.report(); problems != "" {
		t.Errorf("the page misbehaved:\n%s", problems)
	}
}

// resetLabel is the text, and so the accessible name, of the button that
// reopens the example tabs.
const resetLabel = "Reset the example tabs"

// buttonsNamed counts the buttons of the page whose accessible name (as
// Chromium computes it for assistive technology) is name.
func (b *browserTab) buttonsNamed(t *testing.T, name string) int {
	t.Helper()
	n, err := chromedp.Run(b.ctx, func(ctx context.Context, tg *chromedp.Target) (int, error) {
		body, err := chromedp.Evaluate[*runtime.RemoteObject]("document.body")(ctx, tg)
		if err != nil {
			return 0, err
		}
		found, err := cdp.Call(ctx, tg, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
			ObjectID: body.ObjectID, AccessibleName: name, Role: "button"})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, node := range found.Nodes {
			if !node.Ignored {
				n++
			}
		}
		return n, nil
	})
	if err != nil {
		t.Fatalf("query the accessibility tree: %v", err)
	}
	return n
}

// tabTitles waits until the page shows at least n tabs and returns their
// titles.
func (b *browserTab) tabTitles(t *testing.T, n int) []string {
	t.Helper()
	titles, err := chromedp.Run(b.ctx, chromedp.Poll[[]string](fmt.Sprintf(`(() => {
		const titles = [...document.querySelectorAll('.graphiql-tab-button')].map(tab => tab.textContent.trim());
		return titles.length >= %d && titles;
	})()`, n), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("the page did not show %d tabs: %v\n%s", n, err, b.watch.report())
	}
	return titles
}

// variables returns the text of the variables editor.
func (b *browserTab) variables(t *testing.T) string {
	t.Helper()
	text, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror.getValue()`))
	if err != nil {
		t.Fatalf("read the variables editor: %v\n%s", err, b.watch.report())
	}
	return text
}

// run selects the tab of operation (unless it is "": the active tab), runs
// it with the ▶ button, and waits until the result pane contains every one
// of want; it returns the pane's text.
func (b *browserTab) run(t *testing.T, operation string, want ...string) string {
	t.Helper()
	if operation != "" {
		b.do(t, "select the "+operation+" tab",
			chromedp.Click(chromedp.JSPath(fmt.Sprintf(
				`[...document.querySelectorAll('.graphiql-tab-button')].find(tab => tab.textContent.trim() === %q)`, operation))),
		)
		// GraphiQL reads the operation's name from the editor a moment
		// after a tab switch; running before would send the previous tab's.
		b.waitFor(t, "the editor to parse "+operation,
			fmt.Sprintf(`document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.operationName === %q`, operation))
	}
	if operation == "" {
		operation = "the active tab"
	}
	b.do(t, "run "+operation, chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	wantJSON, _ := json.Marshal(want)
	result, err := chromedp.Run(b.ctx, chromedp.Poll[string](fmt.Sprintf(`(() => {
		const text = document.querySelector('.result-window .CodeMirror').CodeMirror.getValue();
		return %s.every(w => text.includes(w)) && text;
	})()`, wantJSON), chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		shown, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('.result-window').innerText`))
		t.Fatalf("the result pane of %s did not show %s: %v\nit shows: %s\n%s", operation, wantJSON, err, shown, b.watch.report())
	}
	return result
}

// findChromium returns the path of Debian's chromium (or $CHROMIUM). Without
// it the test fails in CI and is skipped elsewhere, saying how to install it.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the browser test needs Chromium: install it with `apt-get install -y chromium` " +
		"(./scripts/test.sh does), or set CHROMIUM to a Chromium or Chrome binary"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browserTab is a tab of headless Chromium, and a watch over what its page
// does that a developer would notice.
type browserTab struct {
	ctx   context.Context
	watch *pageWatch
}

// newBrowserTab starts headless Chromium with a fresh profile and opens a tab
// that watches for an uncaught exception, a console error, or a request that
// leaves the server at base (the playground must work offline). The browser
// ends with the test; when the test failed, a screenshot and the HTML of the
// page are kept.
func newBrowserTab(t *testing.T, chromium, base string) *browserTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		// Chromium calls home at start (updates, safe browsing, sync); on a
		// closed network those connections are refused and slow it down.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })

	w := &pageWatch{base: base}
	if err := chromedp.Listen(ctx, w.observe); err != nil {
		t.Fatalf("start Chromium (%s): %v", chromium, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			keepFailure(t, ctx)
		}
	})
	// The whole test, not only the first action: the first action's context
	// would bind the browser's life (see chromedp.Run).
	deadline, cancelDeadline := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelDeadline)
	return &browserTab{ctx: deadline, watch: w}
}

// do runs actions, failing the test with what the page did when one fails.
func (b *browserTab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, b.watch.report())
	}
}

// waitFor waits up to 10 seconds for a JavaScript expression to be truthy.
func (b *browserTab) waitFor(t *testing.T, what, expression string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expression, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("waiting for %s: %v\n%s", what, err, b.watch.report())
	}
}

// pageWatch collects what went wrong on the page.
type pageWatch struct {
	base     string
	mu       sync.Mutex
	problems []string
}

func (w *pageWatch) observe(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		u := ev.Request.URL
		if !strings.HasPrefix(u, w.base+"/") && !strings.HasPrefix(u, "data:") {
			problem = "request outside the server: " + ev.Request.Method + " " + u
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled { // a reload cancels what is in flight
			problem = fmt.Sprintf("request failed: %s (%s)", ev.ErrorText, ev.Type)
		}
	case *runtime.EventExceptionThrown:
		problem = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			problem += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			problem = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if problem != "" {
		w.mu.Lock()
		w.problems = append(w.problems, problem)
		w.mu.Unlock()
	}
}

func (w *pageWatch) report() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.problems, "\n")
}

// keepFailure saves a screenshot and the HTML of the page under
// $E2E_ARTIFACTS (default e2e/failures/, which git ignores).
func keepFailure(t *testing.T, ctx context.Context) {
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		root, err := e2e.ModuleRoot()
		if err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		dir = filepath.Join(root, "e2e", "failures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("no screenshot: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Logf("no screenshot: %v", err)
	} else if path := filepath.Join(dir, name+".png"); os.WriteFile(path, png, 0o644) == nil {
		t.Logf("screenshot of the page: %s", path)
	}
	if html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		if path := filepath.Join(dir, name+".html"); os.WriteFile(path, []byte(html), 0o644) == nil {
			t.Logf("HTML of the page: %s", path)
		}
	}
}

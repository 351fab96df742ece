package sources

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	for _, code := range Codes() {
		got := HTTPStatus(code)
		if (got == http.StatusInternalServerError) != (code == EInternal) {
			t.Errorf("HTTPStatus(%s) = %d: only INTERNAL is a 500", code, got)
		}
	}
	if got := HTTPStatus("NO_SUCH_CODE"); got != http.StatusInternalServerError {
		t.Errorf("a code outside the vocabulary: %d, want 500", got)
	}
}

// The API page's list of codes is the contract with clients: it names every
// code the service answers.
func TestDocsNameEveryCode(t *testing.T) {
	const path = "../docs/api.md"
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range Codes() {
		if !strings.Contains(string(page), "`"+code+"`") {
			t.Errorf("%s does not name `%s`", path, code)
		}
	}
}

// The vocabulary is closed: outside this file, hand-written code names a
// code by its constant, never as a string literal.
func TestCodesAreDeclaredOnce(t *testing.T) {
	codes := map[string]bool{}
	for _, c := range Codes() {
		codes[c] = true
	}
	skip := map[string]bool{"../graph": true, "../sources/errors.go": true} // generated; the declarations
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case skip[path] && d.IsDir():
			return filepath.SkipDir
		case d.IsDir(), skip[path], !strings.HasSuffix(path, ".go"), strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && codes[s] {
					t.Errorf("%s: the code %s is written as a string: use its constant in package sources", path, s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

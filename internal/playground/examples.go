package playground

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"
)

// The playground's example tabs, one GraphQL file each, in file-name order:
// adding a tab is adding a file. A file holds one named operation (the tab's
// title) after a comment that says what it is for; a comment block starting
// with "# Variables:" holds the variables, as JSON, that make it work against
// the demo workspace. That block goes to GraphiQL's variables editor; the
// rest of the file, comments included, is what the tab shows.
//
//go:embed examples/*.graphql
var examplesFS embed.FS

// Example is one preloaded playground tab.
type Example struct {
	// File is the example's file name, such as "10-caller-lookup.graphql".
	File string
	// Operation is the name of the file's operation: GraphiQL's tab title.
	Operation string
	// Query is the GraphQL document the tab shows, description included.
	Query string
	// Variables is the JSON object for the variables editor, or nil.
	Variables json.RawMessage
}

var loadExamples = sync.OnceValues(func() ([]Example, error) { return readExamples(examplesFS) })

// Examples returns the playground's example tabs in order. An error means an
// example file is malformed; the package's tests report which.
func Examples() ([]Example, error) {
	list, err := loadExamples()
	return append([]Example(nil), list...), err
}

func readExamples(fsys fs.FS) ([]Example, error) {
	names, err := fs.Glob(fsys, "examples/*.graphql") // sorted
	if err != nil {
		return nil, err
	}
	var list []Example
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ex, err := parseExample(path.Base(name), string(src))
		if err != nil {
			return nil, fmt.Errorf("playground example %s: %w", name, err)
		}
		list = append(list, ex)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("playground: no example in examples/")
	}
	return list, nil
}

// operationName finds the operation's name the way GraphiQL titles a tab:
// the first "query|mutation|subscription Name" on a line that is not a
// comment.
var operationName = regexp.MustCompile(`(?m)^(?:[^#\n][^\n]*)?(?:query|mutation|subscription)\s+([A-Za-z0-9_]+)`)

func parseExample(file, src string) (Example, error) {
	ex := Example{File: file}
	var query, vars []string
	inVars := false
	for line := range strings.Lines(src) {
		comment, isComment := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "#")
		switch {
		case isComment && strings.TrimSpace(comment) == "Variables:":
			if vars != nil {
				return ex, fmt.Errorf("two Variables blocks")
			}
			inVars, vars = true, []string{}
		case inVars && isComment:
			vars = append(vars, comment)
		default:
			inVars = false
			query = append(query, line)
		}
	}
	ex.Query = strings.TrimSpace(strings.Join(query, "")) + "\n"
	if m := operationName.FindStringSubmatch(ex.Query); m != nil {
		ex.Operation = m[1]
	} else {
		return ex, fmt.Errorf("no named operation: a tab's title is its operation's name")
	}
	if vars != nil {
		raw := []byte(strings.Join(vars, "\n"))
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return ex, fmt.Errorf("Variables: not a JSON object: %w", err)
		}
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, bytes.TrimSpace(raw), "", "  "); err != nil {
			return ex, fmt.Errorf("Variables: %w", err)
		}
		ex.Variables = pretty.Bytes()
	}
	return ex, nil
}

package playground

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// TestExamplesValidate keeps the example tabs working as the schema changes:
// each is one named operation that validates against schema.graphqls, with
// variables the operation accepts. (e2e's TestPlaygroundExamplesRun runs
// them against the demo workspace.)
func TestExamplesValidate(t *testing.T) {
	schema := loadSchema(t)
	examples, err := Examples()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, ex := range examples {
		t.Run(ex.File, func(t *testing.T) {
			if other, dup := seen[ex.Operation]; dup {
				t.Errorf("operation %s is also the name in %s: tabs would share a title", ex.Operation, other)
			}
			seen[ex.Operation] = ex.File
			if !strings.HasPrefix(ex.Query, "#") {
				t.Errorf("the file starts without a comment saying what the example is for")
			}
			doc, errs := gqlparser.LoadQueryWithRules(schema, ex.Query, rules.NewDefaultRules())
			if len(errs) > 0 {
				t.Fatalf("does not validate against schema.graphqls: %v", errs)
			}
			if len(doc.Operations) != 1 || len(doc.Fragments) > 0 {
				t.Fatalf("holds %d operations and %d fragments, want one operation alone", len(doc.Operations), len(doc.Fragments))
			}
			op := doc.Operations[0]
			if op.Name != ex.Operation {
				t.Errorf("GraphiQL would title the tab %q, but the operation is named %q", ex.Operation, op.Name)
			}
			vars := map[string]any{}
			if ex.Variables != nil {
				if err := json.Unmarshal(ex.Variables, &vars); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := validator.VariableValues(schema, op, vars); err != nil {
				t.Errorf("variables %s: %v", ex.Variables, err)
			}
			for name := range vars {
				if op.VariableDefinitions.ForName(name) == nil {
					t.Errorf("variable %q is not declared by the operation", name)
				}
			}
		})
	}
}

func loadSchema(t *testing.T) *ast.Schema {
	t.Helper()
	path := filepath.Join("..", "..", "schema.graphqls")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: path, Input: string(src)})
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

func TestParseExample(t *testing.T) {
	tests := []struct {
		name, src     string
		wantOperation string
		wantQuery     string
		wantVariables string
		wantErr       string
	}{
		{
			name: "variables block is cut out of the query",
			src: "# Who is calling?\n#\n# Variables:\n# {\"phone\": \"(415) 555-0142\",\n#  \"defaultCountry\": \"US\"}\n" +
				"query CallerLookup($phone: String!) { contactsByPhone(phone: $phone) { id } }\n",
			wantOperation: "CallerLookup",
			wantQuery:     "# Who is calling?\n#\nquery CallerLookup($phone: String!) { contactsByPhone(phone: $phone) { id } }\n",
			wantVariables: "{\n  \"phone\": \"(415) 555-0142\",\n  \"defaultCountry\": \"US\"\n}",
		},
		{
			name:          "no variables",
			src:           "# The workspace.\nquery Workspace { workspace { id } }",
			wantOperation: "Workspace",
			wantQuery:     "# The workspace.\nquery Workspace { workspace { id } }\n",
		},
		{
			name:          "a comment naming another query does not title the tab",
			src:           "# Like query Other, but:\nquery Mine { workspace { id } }",
			wantOperation: "Mine",
			wantQuery:     "# Like query Other, but:\nquery Mine { workspace { id } }\n",
		},
		{
			name:    "anonymous operation",
			src:     "# Nameless.\n{ workspace { id } }",
			wantErr: "no named operation",
		},
		{
			name:    "variables that are not JSON",
			src:     "# Bad.\n# Variables:\n# {phone: 1}\nquery Q { workspace { id } }",
			wantErr: "not a JSON object",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExample("x.graphql", tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Operation != tt.wantOperation {
				t.Errorf("got operation %q, want %q", got.Operation, tt.wantOperation)
			}
			if got.Query != tt.wantQuery {
				t.Errorf("got query\n%q\nwant\n%q", got.Query, tt.wantQuery)
			}
			if string(got.Variables) != tt.wantVariables {
				t.Errorf("got variables %q, want %q", got.Variables, tt.wantVariables)
			}
		})
	}
}

func TestReadExamplesInFileOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"examples/20-b.graphql": {Data: []byte("# B\nquery B { workspace { id } }")},
		"examples/10-a.graphql": {Data: []byte("# A\nquery A { workspace { id } }")},
		"examples/notes.txt":    {Data: []byte("not an example")},
	}
	list, err := readExamples(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ex := range list {
		got = append(got, ex.File+":"+ex.Operation)
	}
	if want := "10-a.graphql:A 20-b.graphql:B"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", got, want)
	}

	fsys["examples/30-c.graphql"] = &fstest.MapFile{Data: []byte("{ workspace { id } }")}
	if _, err := readExamples(fsys); err == nil || !strings.Contains(err.Error(), "30-c.graphql") {
		t.Errorf("got error %v, want one naming the malformed file", err)
	}
}

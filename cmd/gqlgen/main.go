// Command gqlgen generates graph/ from schema.graphqls as gqlgen does (go
// generate ./... runs it), with one change to the code it writes: a list of
// objects that never wait is marshalled in order, on the caller's
// goroutine.
//
// gqlgen marshals every list of objects with a goroutine per element, so
// that elements whose resolvers wait (on a loader, say) wait together. An
// element none of whose fields, nor their children's, has a resolver never
// waits: its goroutine costs more than its work (on a warm 50-contact
// dashboard, 250 goroutines and their stack growth a request). gqlgen has
// no setting for this (its issues #3202 and #4321 ask for one), so this
// command finds those lists from gqlgen's own model of the schema and, once
// gqlgen has written graph/generated.go, points their marshal functions at
// graph's marshalSliceInOrder instead of graphql.MarshalSliceConcurrently.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"slices"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	gqlast "github.com/vektah/gqlparser/v2/ast"
)

func main() {
	configFile := flag.String("config", "gqlgen.yml", "gqlgen's configuration")
	flag.Parse()
	if err := run(*configFile); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}

func run(configFile string) error {
	cfg, err := config.LoadConfig(configFile)
	if err != nil {
		return err
	}
	lists := &inOrderLists{}
	if err := api.Generate(cfg, api.AddPlugin(lists)); err != nil {
		return err
	}
	return rewrite(cfg.Exec.Filename, lists.marshalFuncs)
}

// inOrderLists is a gqlgen plugin that only reads: it names the marshal
// functions of lists whose elements never wait (objects, and enums).
type inOrderLists struct {
	marshalFuncs map[string]bool
}

func (*inOrderLists) Name() string { return "inorderlists" }

func (p *inOrderLists) GenerateCode(data *codegen.Data) error {
	waits := mayWait(data.Objects)
	p.marshalFuncs = map[string]bool{}
	for _, ref := range data.ReferencedTypes {
		if !ref.IsSlice() || ref.Definition == nil {
			continue
		}
		// gqlgen marshals lists of enums concurrently too.
		kind := ref.Definition.Kind
		if kind == gqlast.Enum || (kind == gqlast.Object && !waits[ref.Definition.Name]) {
			p.marshalFuncs[ref.MarshalFunc()] = true
		}
	}
	return nil
}

// mayWait tells, for each object, whether marshalling it may wait: a field
// of it has a resolver, a method that takes a context or a directive, or
// leads to an abstract type (any object may stand behind it) or to an object
// that may wait.
func mayWait(objects codegen.Objects) map[string]bool {
	waits := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, obj := range objects {
			if waits[obj.Name] {
				continue
			}
			if slices.ContainsFunc(obj.Fields, func(f *codegen.Field) bool {
				def := f.TypeReference.Definition
				// Not f.IsConcurrent: an object gqlgen runs serially still
				// waits in its resolvers. A directive may wait too.
				return f.IsResolver || f.MethodHasContext || len(f.Directives) > 0 ||
					def.Kind == gqlast.Interface || def.Kind == gqlast.Union || waits[def.Name]
			}) {
				waits[obj.Name] = true
				changed = true
			}
		}
	}
	return waits
}

// rewrite makes the named functions of file call marshalSliceInOrder where
// gqlgen wrote graphql.MarshalSliceConcurrently (the two take the same
// arguments), and leaves every other byte as gqlgen wrote it.
func rewrite(file string, funcs map[string]bool) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return err
	}
	var spans [][2]int // byte offsets of the selectors to replace, in order
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || !funcs[fn.Name.Name] {
			continue
		}
		calls := 0
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if ok && sel.Sel.Name == "MarshalSliceConcurrently" {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "graphql" {
					spans = append(spans, [2]int{fset.Position(sel.Pos()).Offset, fset.Position(sel.End()).Offset})
					calls++
				}
			}
			return true
		})
		if calls != 1 {
			// gqlgen now writes lists otherwise: this rewrite needs a look.
			return fmt.Errorf("%s: %s calls graphql.MarshalSliceConcurrently %d times, not once", file, fn.Name.Name, calls)
		}
	}
	if len(spans) == 0 {
		return nil
	}
	var out bytes.Buffer
	last := 0
	for _, s := range spans {
		out.Write(src[last:s[0]])
		out.WriteString("marshalSliceInOrder")
		last = s[1]
	}
	out.Write(src[last:])
	formatted, err := format.Source(out.Bytes())
	if err != nil {
		return err
	}
	return os.WriteFile(file, formatted, 0o644)
}

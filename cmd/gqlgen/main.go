// Command gqlgen generates graph/ from schema.graphqls as gqlgen does (go
// generate ./... runs it), with two changes to the code it writes: a list of
// objects that never wait is marshalled in order, on the caller's
// goroutine; and so are the objects named by -in-order, field after field,
// and lists of them.
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
//
// An object whose resolvers wait only on loaders, and whose loaders queue
// what the rest of its list will ask for before they wait (a prefetch hook:
// see resolvers.Prefetch), can run in order too: -in-order names it. Its
// fields are resolved by graph's resolveInOrder instead of
// FieldSet.ResolveConcurrently (a deferred field still goes to gqlgen), and
// lists of it are marshalled in order. A warm dashboard of 50 contacts
// then runs on one goroutine instead of 150.
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
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	gqlast "github.com/vektah/gqlparser/v2/ast"
)

func main() {
	configFile := flag.String("config", "gqlgen.yml", "gqlgen's configuration")
	inOrder := flag.String("in-order", "", "objects (comma-separated) whose fields, and lists of them, are resolved in order: their resolvers' loaders must prefetch for the whole list")
	flag.Parse()
	var objects []string
	if *inOrder != "" {
		objects = strings.Split(*inOrder, ",")
	}
	if err := run(*configFile, objects); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}

func run(configFile string, inOrder []string) error {
	cfg, err := config.LoadConfig(configFile)
	if err != nil {
		return err
	}
	lists := &inOrderLists{objects: inOrder}
	if err := api.Generate(cfg, api.AddPlugin(lists)); err != nil {
		return err
	}
	return rewrite(cfg.Exec.Filename, lists)
}

// inOrderLists is a gqlgen plugin that only reads: it names the marshal
// functions of lists whose elements never wait (objects, and enums) or are
// in order, the functions of the in-order objects, each with how many
// fields gqlgen resolves concurrently in it, and the plain fields of every
// object.
type inOrderLists struct {
	objects      []string
	marshalFuncs map[string]bool
	objectFuncs  map[string]int
	// plainFields maps an object's function to the calls of its plain
	// fields' functions and the code that marshals each value directly.
	plainFields map[string]map[string]string
	// emptyGroups are the functions of objects that no field of runs
	// concurrently: their group of deferred fields starts empty.
	emptyGroups map[string]bool
	// objects are the functions of the non-root objects: each answers
	// with fieldsInOrder.
	objectAnswers map[string]bool
}

func (*inOrderLists) Name() string { return "inorderlists" }

func (p *inOrderLists) GenerateCode(data *codegen.Data) error {
	p.objectFuncs = map[string]int{}
	inOrder := map[string]bool{}
	for _, name := range p.objects {
		i := slices.IndexFunc(data.Objects, func(o *codegen.Object) bool { return o.Name == name })
		if i < 0 || data.Objects[i].Root {
			return fmt.Errorf("-in-order %s: not an object of the schema other than a root", name)
		}
		concurrent := 0
		for _, f := range data.Objects[i].Fields {
			if f.IsConcurrent() {
				concurrent++
			}
		}
		inOrder[name] = true
		p.objectFuncs["_"+name] = concurrent
	}
	p.plainFields = map[string]map[string]string{}
	p.emptyGroups = map[string]bool{}
	p.objectAnswers = map[string]bool{}
	for _, obj := range data.Objects {
		if !obj.Root {
			p.objectAnswers["_"+obj.Name] = true
		}
		if !obj.Root && (inOrder[obj.Name] || !slices.ContainsFunc(obj.Fields, (*codegen.Field).IsConcurrent)) {
			p.emptyGroups["_"+obj.Name] = true
		}
		for _, f := range obj.Fields {
			if code, ok := plainField(f); ok {
				if p.plainFields["_"+obj.Name] == nil {
					p.plainFields["_"+obj.Name] = map[string]string{}
				}
				p.plainFields["_"+obj.Name]["_"+obj.Name+"_"+f.Name] = code
			}
		}
	}
	waits := mayWait(data.Objects, inOrder)
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

// plainField tells whether f is a plain field, and the code that marshals it
// in its place. A plain field is a struct field of a non-root object, of a
// built-in scalar other than Float (whose marshalling may fail) or an enum,
// not a Go pointer when the schema says non-null, with no argument,
// directive or resolver. gqlgen resolves each field through
// graphql.ResolveField: a field context, a context value, a middleware
// chain, a panic guard and a boxed value, about eight allocations, for what
// is one read of a struct field (a warm 50-contact dashboard has 1,800 such
// fields). Nothing of that can matter to such a field: its value cannot be
// a null it may not be, nor fail to marshal, so no error or path is made,
// and field middleware (the tracer) only looks at fields with resolvers.
// Its value is marshalled directly, as ResolveField would.
func plainField(f *codegen.Field) (string, bool) {
	ref := f.TypeReference
	def := ref.Definition
	if f.Object.Root || !f.IsVariable() || f.HasHaser || f.IsResolver || f.IsBatch() || f.Stream ||
		len(f.Args) > 0 || len(f.Directives) > 0 || def == nil || ref.IsSlice() || (ref.GQL.NonNull && ref.IsPtr()) {
		return "", false
	}
	switch {
	case def.Kind == gqlast.Enum && !ref.HasEnumValues():
	case def.Kind == gqlast.Scalar && slices.Contains([]string{"String", "ID", "Int", "Boolean"}, def.Name):
	default:
		return "", false
	}
	return fmt.Sprintf("ec.%s(ctx, field.Selections, %s.%s)", ref.MarshalFunc(), f.GoReceiverName, f.GoFieldName), true
}

// mayWait tells, for each object, whether marshalling it may wait: a field
// of it has a resolver, a method that takes a context or a directive, or
// leads to an abstract type (any object may stand behind it) or to an object
// that may wait. An in-order object is taken not to: its waits are
// prefetched for its whole list.
func mayWait(objects codegen.Objects, inOrder map[string]bool) map[string]bool {
	waits := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, obj := range objects {
			if waits[obj.Name] || inOrder[obj.Name] {
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

// rewrite makes the named marshal functions of file call
// marshalSliceInOrder where gqlgen wrote graphql.MarshalSliceConcurrently
// (the two take the same arguments), makes the functions of in-order
// objects (with how many fields gqlgen resolves concurrently in each) call
// resolveInOrder(ctx, field, out, ...) where gqlgen wrote
// out.ResolveConcurrently(...), and leaves every other byte as gqlgen wrote it.
func rewrite(file string, lists *inOrderLists) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return err
	}
	var spans []span // in order
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		if fn.Recv != nil {
			if plain, ok := lists.plainFields[fn.Name.Name]; ok {
				found, err := plainFieldCalls(fset, fn, plain)
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				spans = append(spans, found...)
			}
			if lists.objectAnswers[fn.Name.Name] {
				found, err := objectAnswer(fset, fn)
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				spans = append(spans, found)
			}
			if lists.emptyGroups[fn.Name.Name] {
				found, err := emptyGroup(fset, fn)
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				spans = append(spans, found)
			}
			if want, ok := lists.objectFuncs[fn.Name.Name]; ok {
				found, err := inOrderFields(fset, fn, want)
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				spans = append(spans, found...)
			}
		}
		if !lists.marshalFuncs[fn.Name.Name] {
			continue
		}
		calls := 0
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if ok && sel.Sel.Name == "MarshalSliceConcurrently" {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "graphql" {
					spans = append(spans, span{fset.Position(sel.Pos()).Offset, fset.Position(sel.End()).Offset, "marshalSliceInOrder"})
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
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	for _, s := range spans {
		out.Write(src[last:s.start])
		out.WriteString(s.text)
		last = s.end
	}
	out.Write(src[last:])
	formatted, err := format.Source(out.Bytes())
	if err != nil {
		return err
	}
	return os.WriteFile(file, formatted, 0o644)
}

// span is a run of bytes of the file to replace with text.
type span struct {
	start, end int
	text       string
}

// inOrderFields finds in an in-order object's function the want calls of
// out.ResolveConcurrently(args) and gives the spans that make each
// resolveInOrder(ctx, field, out, args): the same arguments, after the
// function's context, the collected field and the field set.
func inOrderFields(fset *token.FileSet, fn *ast.FuncDecl, want int) ([]span, error) {
	var found []span
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "ResolveConcurrently" {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "out" {
				found = append(found, span{fset.Position(sel.Pos()).Offset, fset.Position(call.Lparen).Offset + 1,
					"resolveInOrder(ctx, field, out, "})
			}
		}
		return true
	})
	if len(found) != want {
		// gqlgen now writes objects otherwise: this rewrite needs a look.
		return nil, fmt.Errorf("%s calls out.ResolveConcurrently %d times, not once for each of its %d concurrent fields", fn.Name.Name, len(found), want)
	}
	return found, nil
}

// plainFieldCalls finds in an object's function the call of each of its
// plain fields' functions, ec._Object_field(ctx, field, obj), once each,
// and gives the spans that marshal the value there instead.
func plainFieldCalls(fset *token.FileSet, fn *ast.FuncDecl, plain map[string]string) ([]span, error) {
	var found []span
	seen := map[string]int{}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			if code, ok := plain[sel.Sel.Name]; ok {
				found = append(found, span{fset.Position(call.Pos()).Offset, fset.Position(call.End()).Offset, code})
				seen[sel.Sel.Name]++
			}
		}
		return true
	})
	for name := range plain {
		if seen[name] != 1 {
			// gqlgen now writes objects otherwise: this rewrite needs a look.
			return nil, fmt.Errorf("%s calls %s %d times, not once", fn.Name.Name, name, seen[name])
		}
	}
	return found, nil
}

// emptyGroup finds in an object's function the one call
// graphql.NewDeferredGroup(ctx) and gives the span that makes it an empty
// graphql.DeferredGroup{}. gqlgen makes a group for every object it
// marshals, with the object's path, a field set and a map (the path alone
// walks every parent): on a warm 50-contact dashboard, 400 groups, a tenth
// of its CPU. Only a field gqlgen resolves concurrently can be deferred
// into it; an object with none (or in order: resolveInOrder makes the
// group when a field is deferred) leaves it empty, and an empty group is
// one with no Defers.
func emptyGroup(fset *token.FileSet, fn *ast.FuncDecl) (span, error) {
	var found []span
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "NewDeferredGroup" {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "graphql" {
				found = append(found, span{fset.Position(call.Pos()).Offset, fset.Position(call.End()).Offset, "graphql.DeferredGroup{}"})
			}
		}
		return true
	})
	if len(found) != 1 {
		// gqlgen now writes objects otherwise: this rewrite needs a look.
		return span{}, fmt.Errorf("%s calls graphql.NewDeferredGroup %d times, not once", fn.Name.Name, len(found))
	}
	return found[0], nil
}

// objectAnswer finds in an object's function its last statement, return
// out, and gives the span that makes it return fieldsInOrder{fields,
// out.Values}: the same bytes as the *graphql.FieldSet, whose MarshalGQL
// builds a map of the keys it wrote for every object it writes.
func objectAnswer(fset *token.FileSet, fn *ast.FuncDecl) (span, error) {
	last := len(fn.Body.List) - 1
	if last >= 0 {
		if ret, ok := fn.Body.List[last].(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
			if id, ok := ret.Results[0].(*ast.Ident); ok && id.Name == "out" {
				return span{fset.Position(id.Pos()).Offset, fset.Position(id.End()).Offset, "fieldsInOrder{fields, out.Values}"}, nil
			}
		}
	}
	// gqlgen now writes objects otherwise: this rewrite needs a look.
	return span{}, fmt.Errorf("%s does not end with return out", fn.Name.Name)
}

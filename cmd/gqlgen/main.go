// Command gqlgen generates graph/ from schema.graphqls as gqlgen does (go
// generate ./... runs it), then rewrites parts of what gqlgen wrote so that
// a warm dashboard walks its answer without what gqlgen spends around each
// field and object (see docs/benchmarks.md, the executor):
//
//   - A list of objects that never wait is marshalled in order, on the
//     caller's goroutine (graph's marshalSliceInOrder). gqlgen marshals
//     every list of objects with a goroutine per element, so that elements
//     whose resolvers wait (on a loader, say) wait together; an element none
//     of whose fields, nor their children's, has a resolver never waits,
//     and its goroutine and the stack growth that follows cost more than
//     its work. gqlgen has no setting for this (its issues #3202 and #4321
//     ask for one).
//   - The objects named by -in-order are resolved in order too, field after
//     field (graph's resolveInOrder; a deferred field still goes to gqlgen),
//     and lists of them, and lists of objects that hold them. Their
//     resolvers wait only on loaders, whose prefetch hook queues what the
//     rest of the list will ask for before a load waits (resolvers.Prefetch):
//     a cold list still waits once per kind, and a warm one runs on one
//     goroutine instead of 150. The hook must know every list that holds
//     them (for contacts: lists of contacts and a connection's edges); a
//     list it does not know is still right, but waits once per element.
//   - A plain field (see plainField) is marshalled in its object's function
//     instead of through graphql.ResolveField.
//   - An object answers with graph's fieldsInOrder instead of gqlgen's
//     FieldSet, and one with no concurrent field starts with an empty group
//     of deferred fields.
//
// It finds what to rewrite in gqlgen's own model of the schema (a plugin
// that only reads), and fails when the code gqlgen wrote is not of the
// shape it expects: a new gqlgen needs a look, not a silent half-rewrite.
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
	p := &plan{inOrder: inOrder}
	if err := api.Generate(cfg, api.AddPlugin(p)); err != nil {
		return err
	}
	return rewrite(cfg.Exec.Filename, p)
}

// plan is a gqlgen plugin that only reads: it tells what of the code gqlgen
// writes is to be rewritten.
type plan struct {
	inOrder []string
	// lists are the marshal functions of lists marshalled in order.
	lists map[string]bool
	// objects are the functions of the non-root objects, by name.
	objects map[string]objectPlan
}

// objectPlan is what is rewritten in one object's function.
type objectPlan struct {
	// inOrder is how many fields gqlgen resolves concurrently in an
	// in-order object (each then resolveInOrder); -1 for another object.
	inOrder int
	// emptyGroup: no field of the object runs concurrently (or it is in
	// order), so its group of deferred fields starts empty.
	emptyGroup bool
	// plain maps the functions of its plain fields to the code that
	// marshals each value in their place.
	plain map[string]string
}

func (*plan) Name() string { return "executorplan" }

func (p *plan) GenerateCode(data *codegen.Data) error {
	inOrder := map[string]bool{}
	for _, name := range p.inOrder {
		i := slices.IndexFunc(data.Objects, func(o *codegen.Object) bool { return o.Name == name })
		if i < 0 || data.Objects[i].Root {
			return fmt.Errorf("-in-order %s: not an object of the schema other than a root", name)
		}
		inOrder[name] = true
	}
	p.objects = map[string]objectPlan{}
	for _, obj := range data.Objects {
		if obj.Root {
			continue
		}
		op := objectPlan{inOrder: -1, plain: map[string]string{}}
		concurrent := 0
		for _, f := range obj.Fields {
			if f.IsConcurrent() {
				concurrent++
			}
			if code, ok := plainField(f); ok {
				op.plain["_"+obj.Name+"_"+f.Name] = code
			}
		}
		if inOrder[obj.Name] {
			op.inOrder = concurrent
		}
		op.emptyGroup = concurrent == 0 || inOrder[obj.Name]
		p.objects["_"+obj.Name] = op
	}
	waits := mayWait(data.Objects, inOrder)
	p.lists = map[string]bool{}
	for _, ref := range data.ReferencedTypes {
		if !ref.IsSlice() || ref.Definition == nil {
			continue
		}
		// gqlgen marshals lists of enums concurrently too.
		kind := ref.Definition.Kind
		if kind == gqlast.Enum || (kind == gqlast.Object && !waits[ref.Definition.Name]) {
			p.lists[ref.MarshalFunc()] = true
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
// a null it may not be, nor fail to marshal, so no error or path is made.
// Field middleware does not see it: the server's only one, the tracer,
// looks at fields with resolvers alone (graphqlhttp.Options says so to
// whoever adds another). Its value is marshalled directly, as
// ResolveField would.
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

// rewrite makes in file the changes p plans, and leaves every other byte as
// gqlgen wrote it.
func rewrite(file string, p *plan) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		return err
	}
	var spans []span
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv == nil {
			continue
		}
		var found []span
		if p.lists[fn.Name.Name] {
			found, err = listInOrder(fset, fn)
		} else if op, ok := p.objects[fn.Name.Name]; ok {
			found, err = objectRewrite(fset, fn, op)
		}
		if err != nil {
			// gqlgen now writes this otherwise: the rewrite needs a look.
			return fmt.Errorf("%s: %s: %w", file, fn.Name.Name, err)
		}
		spans = append(spans, found...)
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

// listInOrder makes a list's marshal function call marshalSliceInOrder
// where gqlgen wrote graphql.MarshalSliceConcurrently: the two take the
// same arguments.
func listInOrder(fset *token.FileSet, fn *ast.FuncDecl) ([]span, error) {
	calls, err := callsOf(fn, "graphql", "MarshalSliceConcurrently", 1)
	if err != nil {
		return nil, err
	}
	sel := calls[0].Fun
	return []span{{offset(fset, sel.Pos()), offset(fset, sel.End()), "marshalSliceInOrder"}}, nil
}

// objectRewrite makes an object's function
//   - return fieldsInOrder{fields, out.Values} where gqlgen wrote return out
//     (its last statement): the same bytes, without the map of written keys
//     FieldSet.MarshalGQL builds for every object;
//   - start with an empty graphql.DeferredGroup{} where gqlgen made one with
//     graphql.NewDeferredGroup(ctx), when no field of it runs concurrently or
//     it is in order (resolveInOrder makes it when a field is deferred): a
//     group holds the object's path (GetPath walks every parent), a field
//     set and a map, for every object marshalled, and only a field run
//     concurrently can be deferred into it;
//   - call resolveInOrder(ctx, field, out, args) where gqlgen wrote
//     out.ResolveConcurrently(args), when it is in order;
//   - marshal each plain field's value where gqlgen called its function.
func objectRewrite(fset *token.FileSet, fn *ast.FuncDecl, op objectPlan) ([]span, error) {
	var spans []span
	var ret *ast.ReturnStmt
	if n := len(fn.Body.List); n > 0 {
		ret, _ = fn.Body.List[n-1].(*ast.ReturnStmt)
	}
	if ret == nil || len(ret.Results) != 1 || !isIdent(ret.Results[0], "out") {
		return nil, fmt.Errorf("it does not end with return out")
	}
	spans = append(spans, span{offset(fset, ret.Results[0].Pos()), offset(fset, ret.Results[0].End()), "fieldsInOrder{fields, out.Values}"})
	if op.emptyGroup {
		calls, err := callsOf(fn, "graphql", "NewDeferredGroup", 1)
		if err != nil {
			return nil, err
		}
		spans = append(spans, span{offset(fset, calls[0].Pos()), offset(fset, calls[0].End()), "graphql.DeferredGroup{}"})
	}
	if op.inOrder >= 0 {
		calls, err := callsOf(fn, "out", "ResolveConcurrently", op.inOrder)
		if err != nil {
			return nil, err
		}
		for _, call := range calls {
			spans = append(spans, span{offset(fset, call.Pos()), offset(fset, call.Lparen) + 1, "resolveInOrder(ctx, field, out, "})
		}
	}
	for name, code := range op.plain {
		calls, err := callsOf(fn, "ec", name, 1)
		if err != nil {
			return nil, err
		}
		spans = append(spans, span{offset(fset, calls[0].Pos()), offset(fset, calls[0].End()), code})
	}
	return spans, nil
}

// callsOf finds the calls recv.name(...) in fn, and fails unless there are
// want of them.
func callsOf(fn *ast.FuncDecl, recv, name string, want int) ([]*ast.CallExpr, error) {
	var calls []*ast.CallExpr
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == name && isIdent(sel.X, recv) {
				calls = append(calls, call)
			}
		}
		return true
	})
	if len(calls) != want {
		return nil, fmt.Errorf("it calls %s.%s %d times, not %d", recv, name, len(calls), want)
	}
	return calls, nil
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func offset(fset *token.FileSet, pos token.Pos) int { return fset.Position(pos).Offset }

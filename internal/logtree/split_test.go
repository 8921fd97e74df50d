package logtree_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestVerificationSideApart: internal/transparency, which wallets and
// scanners link, keeps no issuer-side log: it declares no Tree and no
// method of one, and does not import this package.
func TestVerificationSideApart(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "transparency", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files of internal/transparency: %v", err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasSuffix(p, "/internal/logtree") {
				t.Errorf("%s imports %s", name, p)
			}
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == "Tree" {
						t.Errorf("%s declares type Tree", name)
					}
				}
			case *ast.FuncDecl:
				if d.Recv != nil && strings.Contains(receiverType(d.Recv), "Tree") {
					t.Errorf("%s declares method %s of a Tree", name, d.Name.Name)
				}
			}
		}
	}
}

// receiverType returns the receiver's type as written.
func receiverType(fl *ast.FieldList) string {
	var b strings.Builder
	for _, f := range fl.List {
		ast.Inspect(f.Type, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				b.WriteString(id.Name)
			}
			return true
		})
	}
	return b.String()
}

package testpolicy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sleepAllowed names, per test file, the functions where time.Sleep is not
// synchronization. Everywhere else a test waits by polling state or output
// (wait.PollUntilContextTimeout) or on a channel.
var sleepAllowed = map[string]map[string]string{
	"pkg/webhook/bench_test.go": {"fireTagged": "open-loop load: each request waits for its scheduled send time"},
}

// skipAllowed names the test files that may call Skip, and why the skip
// cannot hide a broken build. A new skip fails this test until it is
// audited and listed here.
var skipAllowed = map[string]string{
	"pkg/estimator/calibrate/calibrate_test.go": "the calibration data lives outside the module (../shared); under CI its absence fails instead (issue 16)",
	"pkg/release/releasecheck_test.go":          "needs the release make renders: `make test` runs `make release-check`, which sets DGDR_RELEASE_CHECK_DIR and DGDR_IMAGES_DIR",
	"pkg/online/bench_test.go":                  "an opt-in benchmark (ONLINE_BENCH=1), not a check",
	"pkg/online/main_test.go":                   "go test -short leaves out the control-plane e2e by request; without -short a missing control plane fails",
	"pkg/output/robust_test.go":                 "the fuzz target skips inputs outside the sizes it models",
	"pkg/output/report_browser_test.go":         "needs Debian's chromium, which `make test` installs (hack/ensure-chromium.sh); under CI=true its absence fails instead",
}

func TestNoSleepOrUnauditedSkipInTests(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module root is not two levels up: %v", err)
	}
	files, sleeps, skips := 0, 0, map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "out", "dist", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		files++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		timePkg := importName(f, "time")
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, _ := sel.X.(*ast.Ident)
				pos := fset.Position(call.Pos())
				switch {
				case x != nil && x.Name == timePkg && sel.Sel.Name == "Sleep":
					sleeps++
					if _, ok := sleepAllowed[rel][fn.Name.Name]; !ok {
						t.Errorf("%s:%d: time.Sleep in %s: wait by polling state or output (wait.PollUntilContextTimeout), not by sleeping", rel, pos.Line, fn.Name.Name)
					}
				case sel.Sel.Name == "Skip" || sel.Sel.Name == "Skipf" || sel.Sel.Name == "SkipNow":
					skips[rel] = true
					if _, ok := skipAllowed[rel]; !ok {
						t.Errorf("%s:%d: %s in %s: a skip can hide a broken build; fail instead, or audit it and list the file in skipAllowed with the reason", rel, pos.Line, sel.Sel.Name, fn.Name.Name)
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk must have seen the tree, or it checked nothing.
	if files < 50 || sleeps == 0 || len(skips) == 0 {
		t.Fatalf("read %d test files with %d sleeps and skips in %d files: the walk missed the tree", files, sleeps, len(skips))
	}
	for f := range skipAllowed {
		if !skips[f] {
			t.Errorf("skipAllowed lists %s, which no longer skips: remove it", f)
		}
	}
}

// importName is the name a file uses for an import path ("" if none).
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return filepath.Base(path)
		}
	}
	return ""
}

package cmd

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/homedir"
)

var update = flag.Bool("update", false, "rewrite testdata/help/*.golden")

// Every verb's --help is a golden file: a change to a flag, a default, an
// example or a description shows in review. go test ./pkg/cmd -update
// rewrites them.
func TestHelpGolden(t *testing.T) {
	// cobra adds help and completion when the root runs.
	verbs := []string{"", "completion"}
	for _, c := range NewRootCmd(Options{IOStreams: genericiooptions.NewTestIOStreamsDiscard()}).Commands() {
		verbs = append(verbs, c.Name())
	}
	if len(verbs) < 10 {
		t.Fatalf("found only %v", verbs)
	}
	for _, verb := range verbs {
		name := verb
		if name == "" {
			name = "root"
		}
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			root := NewRootCmd(Options{IOStreams: genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &out}})
			args := []string{"--help"}
			if verb != "" {
				args = []string{verb, "--help"}
			}
			root.SetArgs(args)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			// kubectl's --cache-dir default is under $HOME: not the golden's business.
			got := strings.ReplaceAll(out.String(), filepath.Join(homedir.HomeDir(), ".kube", "cache"), "$HOME/.kube/cache")
			if verb != "" && verb != "completion" && !strings.Contains(got, "Examples:") {
				t.Errorf("kubectl dgdr %s --help has no examples", verb)
			}
			golden := filepath.Join("testdata", "help", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/cmd -update)", err)
			}
			if got != string(want) {
				t.Errorf("kubectl dgdr %s --help differs from %s (go test ./pkg/cmd -update accepts it):\n%s", verb, golden, got)
			}
		})
	}
}

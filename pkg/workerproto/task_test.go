package workerproto

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// Args renders what BindFlags parses: the Job's container args carry the
// task unchanged.
func TestTaskArgsRoundTrip(t *testing.T) {
	in := Task{Phase: "decode", Backend: "sglang", Model: "m", Mapping: results.Mapping{Kind: "DEP", N: 8, TP: 1, EP: 8, AttnDP: 8},
		ISLs: []int{100, 6843}, OSL: 500, Granularity: 6, Concurrencies: []int{8, 16}, EngineURL: "http://x:8000",
		EngineLog: "/l", ReadyTimeout: time.Minute, ConfigMap: "cm"}
	var out Task
	fs := pflag.NewFlagSet("measure", pflag.ContinueOnError)
	out.BindFlags(fs)
	if err := fs.Parse(in.Args()); err != nil {
		t.Fatal(err)
	}
	out.Normalize()
	in.Normalize()
	if strings.Join(out.Args(), " ") != strings.Join(in.Args(), " ") {
		t.Fatalf("round trip:\n%v\n%v", in.Args(), out.Args())
	}
}

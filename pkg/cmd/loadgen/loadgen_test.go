package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/mocker"
)

func TestLoadgenCommand(t *testing.T) {
	srv, err := mocker.New(mocker.Config{Model: "served/model", NumGPUBlocks: 10000,
		Timing: mocker.FixedTiming{PrefillTime: 5 * time.Millisecond, DecodeTime: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	export := filepath.Join(t.TempDir(), "profile_export_aiperf.json")
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := NewCmd(streams)
	cmd.SetArgs([]string{"--url", hs.URL, "--isl", "50", "--osl", "4", "--concurrency", "2", "--request-count", "6", "--export", export})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "time_to_first_token") || !strings.Contains(out.String(), "inter_token_latency") ||
		!strings.Contains(out.String(), "effective_concurrency") {
		t.Fatalf("table lacks the metrics:\n%s", out.String())
	}
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	_ = json.Unmarshal(b, &m) // non-object values (start_time) fail per key; the stats still decode
	if m["request_count"]["avg"] != 6.0 || m["output_sequence_length"]["avg"] != 4.0 || m["time_to_first_token"]["unit"] != "ms" {
		t.Fatalf("export: request_count %v, output_sequence_length %v, ttft unit %v", m["request_count"], m["output_sequence_length"], m["time_to_first_token"]["unit"])
	}
	if c, _ := m["effective_concurrency"]["avg"].(float64); c <= 1 || c > 2 {
		t.Errorf("effective_concurrency %v: want above 1 and at most the 2 asked", m["effective_concurrency"])
	}
	for _, k := range []string{"p50", "p90", "p99", "avg"} {
		if _, ok := m["inter_token_latency"][k]; !ok {
			t.Errorf("inter_token_latency.%s missing", k)
		}
	}
}

func TestLoadgenValidation(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	for args, want := range map[string]string{
		"--isl 10 --osl 5":                                 "--url is required",
		"--url http://x --model m --isl 0 --osl 5":         "isl 0",
		"--url http://x --model m --isl 10 --osl 5 -o xml": `--output "xml" is not supported: use one of table, json`,
	} {
		cmd := NewCmd(streams)
		cmd.SetArgs(strings.Fields(args))
		var buf bytes.Buffer
		cmd.SetErr(&buf)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want an error containing %q", args, err, want)
		}
	}
}

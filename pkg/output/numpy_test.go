package output

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The planner loads raw_data.npz with numpy, so numpy itself must read our
// files with the seed's names, shapes and dtypes. `make test` installs
// Debian's python3-numpy when it is missing (hack/ensure-numpy.sh).
func TestNPZLoadsInNumpy(t *testing.T) {
	python := "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Fatalf("numpy is not importable by %s (run hack/ensure-numpy.sh): %v\n%s", python, err, out)
	}
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 2))
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := Write(dir, r, typicalInputs("vllm", "")); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
p = np.load(sys.argv[1])
d = np.load(sys.argv[2])
for k in sorted(p.files): print("prefill", k, p[k].dtype.kind, p[k].shape)
for k in sorted(d.files): print("decode", k, d[k].dtype.kind, d[k].shape)
print("ttft0 %.6f" % p["prefill_ttft"][0])
print("maxkv %d" % int(np.asarray(d["max_kv_tokens"]).ravel()[0]))
`
	out, err := exec.Command(python, "-c", script,
		filepath.Join(dir, "selected_prefill_interpolation", "raw_data.npz"),
		filepath.Join(dir, "selected_decode_interpolation", "raw_data.npz")).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy could not load the npz files: %v\n%s", err, out)
	}
	n := len(r.PrefillInterpolation.ISL)
	m := len(r.DecodeInterpolation.KVUsage)
	want := []string{
		"prefill prefill_isl i (" + strconv.Itoa(n) + ",)",
		"prefill prefill_thpt_per_gpu f (" + strconv.Itoa(n) + ",)",
		"prefill prefill_ttft f (" + strconv.Itoa(n) + ",)",
		"decode max_kv_tokens i (1,)",
		"decode x_kv_usage f (" + strconv.Itoa(m) + ",)",
		"decode y_context_length f (" + strconv.Itoa(m) + ",)",
		"decode z_itl f (" + strconv.Itoa(m) + ",)",
		"decode z_thpt_per_gpu f (" + strconv.Itoa(m) + ",)",
		"ttft0 34.755885",
		"maxkv 643891",
	}
	got := strings.TrimSpace(string(out))
	if got != strings.Join(want, "\n") {
		t.Fatalf("numpy sees\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

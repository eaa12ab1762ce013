package output

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

var wantFiles = []string{
	FileConfigWithPlanner, FileCostSLA, FileDecodePerformance, FileDisaggConfig, FileMockerConfigPlanner,
	FileLog, FilePrefillPerformance, FileStatus, FileReport, FileResults,
	DirDecodeInterpolation + "/" + FileDecodeITLInterp, DirDecodeInterpolation + "/decode_itl_interpolation.png",
	DirDecodeInterpolation + "/" + FileRawData,
	DirDecodeInterpolation + "/" + FileDecodeThptInterp,
	DirPrefillInterpolation + "/" + FilePrefillThptInterp, DirPrefillInterpolation + "/" + FilePrefillTTFTInterp,
	DirPrefillInterpolation + "/" + FileRawData,
}

func TestWriteTypical(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	dir := filepath.Join(t.TempDir(), "out")
	got, err := Write(dir, r, typicalInputs("vllm", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(wantFiles)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Write returned\n%v\nwant\n%v", got, want)
	}
	for _, f := range want {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("staging left behind next to the output: %v", entries)
	}

	// Every PNG decodes and is a real chart: several distinct colours.
	for _, f := range want {
		if !strings.HasSuffix(f, ".png") {
			continue
		}
		checkPNG(t, filepath.Join(dir, f))
	}

	// results.json is the Results marshalled.
	var back results.Results
	b, _ := os.ReadFile(filepath.Join(dir, FileResults))
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Selection.Prefill == nil || back.Selection.Prefill.Mapping != r.Selection.Prefill.Mapping || len(back.Decode) != len(r.Decode) {
		t.Errorf("results.json does not round-trip: %+v", back.Selection)
	}

	// profiler_status.yaml per §16.
	st, _ := os.ReadFile(filepath.Join(dir, FileStatus))
	if !strings.HasPrefix(string(st), "status: success\ntimestamp: \"2026-01-02T03:04:05Z\"\nmessage: Profiler completed successfully\noutputs:\n") {
		t.Errorf("profiler_status.yaml:\n%s", st)
	}
	if !strings.Contains(string(st), "config_with_planner: config_with_planner.yaml") || !strings.Contains(string(st), "mocker_config_with_planner: mocker_config_with_planner.yaml") {
		t.Errorf("profiler_status.yaml lacks outputs:\n%s", st)
	}

	// The log is copied verbatim.
	lg, _ := os.ReadFile(filepath.Join(dir, FileLog))
	if string(lg) != "2026-01-02 03:04:05 - profiler - INFO - Profiler job started\n" {
		t.Errorf("profile_sla.log = %q", lg)
	}

	// report.html is self-contained, with plots, tables, SLA and the seed's lines.
	rep, _ := os.ReadFile(filepath.Join(dir, FileReport))
	for _, s := range []string{"data:image/png;base64,", "Suggested prefill TP:1 (TTFT 34.76 ms, throughput 2877.21 tokens/s/GPU)",
		"Suggested decode TP:1 (ITL 18.40 ms, throughput 13043.48 tokens/s/GPU)", "TTFT ≤ 200 ms", "ITL ≤ 20 ms", "<h2>Prefill sweep</h2>", "class=\"sel\"", "VllmPrefillWorker"} {
		if !strings.Contains(string(rep), s) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	if n := strings.Count(string(rep), "<img "); n != 7 {
		t.Errorf("report.html has %d images, want 7", n)
	}
	for _, bad := range []string{"http://", "https://", "<script"} {
		if strings.Contains(strings.Split(string(rep), "<h2>Generated")[0], bad) {
			t.Errorf("report.html refers outside itself: %q", bad)
		}
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	colours := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 10, g >> 10, bl >> 10}] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("%s looks blank: %d distinct colours", path, len(colours))
	}
	if b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("%s is %dx%d, too small to read", path, b.Dx(), b.Dy())
	}
	// The SLA line is red: some pixel must be clearly red.
	red := false
	for y := b.Min.Y; y < b.Max.Y && !red; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 > 180 && g>>8 < 60 && bl>>8 < 60 {
				red = true
				break
			}
		}
	}
	if !red {
		t.Errorf("%s has no red SLA line", path)
	}
}

func TestNPZRoundTrip(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	pb, err := PrefillNPZ(r.PrefillInterpolation)
	if err != nil {
		t.Fatal(err)
	}
	db, err := DecodeNPZ(r.DecodeInterpolation)
	if err != nil {
		t.Fatal(err)
	}
	// Deterministic: the same input gives the same bytes.
	pb2, _ := PrefillNPZ(r.PrefillInterpolation)
	db2, _ := DecodeNPZ(r.DecodeInterpolation)
	if !bytes.Equal(pb, pb2) || !bytes.Equal(db, db2) {
		t.Error("npz output is not byte-deterministic")
	}

	rd, err := npz.NewReader(bytes.NewReader(pb), int64(len(pb)))
	if err != nil {
		t.Fatal(err)
	}
	if got := rd.Keys(); !slices.Equal(got, []string{"prefill_isl.npy", "prefill_ttft.npy", "prefill_thpt_per_gpu.npy"}) {
		t.Errorf("prefill npz members = %v", got)
	}
	checkArray(t, rd, "prefill_isl.npy", "<i8", []int{17})
	checkArray(t, rd, "prefill_ttft.npy", "<f8", []int{17})
	checkArray(t, rd, "prefill_thpt_per_gpu.npy", "<f8", []int{17})
	var isl []int64
	if err := rd.Read("prefill_isl.npy", &isl); err != nil {
		t.Fatal(err)
	}
	if len(isl) != 17 || isl[0] != 100 || isl[1] != 2621 || isl[16] != 40436 {
		t.Errorf("prefill_isl = %v", isl)
	}
	var ttft, thpt []float64
	_ = rd.Read("prefill_ttft.npy", &ttft)
	_ = rd.Read("prefill_thpt_per_gpu.npy", &thpt)
	if ttft[0] != 34.755885 || fmtf(thpt[0]) != "2877.21" {
		t.Errorf("prefill_ttft[0] = %v, thpt[0] = %v (TV-12: 34.755885, 2877.21)", ttft[0], thpt[0])
	}

	rd, err = npz.NewReader(bytes.NewReader(db), int64(len(db)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x_kv_usage", "y_context_length", "z_itl", "z_thpt_per_gpu"} {
		checkArray(t, rd, name+".npy", "<f8", []int{36})
	}
	checkArray(t, rd, "max_kv_tokens.npy", "<i8", []int{1})
	var kv []int64
	if err := rd.Read("max_kv_tokens.npy", &kv); err != nil || len(kv) != 1 || kv[0] != 643891 {
		t.Errorf("max_kv_tokens = %v (%v)", kv, err)
	}
	var x, y []float64
	_ = rd.Read("x_kv_usage.npy", &x)
	_ = rd.Read("y_context_length.npy", &y)
	if x[0] != 350.0/643891 || y[0] != 350 || y[6] != 7093 {
		t.Errorf("x_kv_usage[0] = %v, y_context_length[0,6] = %v, %v", x[0], y[0], y[6])
	}

	// numpy.savez layout: stored members whose data starts at a 64-byte boundary.
	for _, b := range [][]byte{pb, db} {
		zr, err := npz.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range zr.Keys() {
			rc, _ := zr.Open(k)
			var m bytes.Buffer
			_, _ = m.ReadFrom(rc)
			rc.Close()
			raw := m.Bytes()
			hl := int(raw[8]) | int(raw[9])<<8
			if (10+hl)%64 != 0 || raw[10+hl-1] != '\n' || string(raw[:6]) != "\x93NUMPY" || raw[6] != 1 {
				t.Errorf("%s: header length %d does not align the data to 64 bytes", k, hl)
			}
		}
	}
}

func fmtf(f float64) string { return strings.TrimRight(strings.TrimRight(jsonFloat(f), "0"), ".") }

func jsonFloat(f float64) string {
	b, _ := json.Marshal(float64(int64(f*100+0.5)) / 100)
	return string(b)
}

func checkArray(t *testing.T, rd *npz.Reader, name, descr string, shape []int) {
	t.Helper()
	h := rd.Header(name)
	if h == nil {
		t.Fatalf("npz lacks %s", name)
	}
	if got := strings.Trim(h.Descr.Type, "'"); got != descr || !slices.Equal(h.Descr.Shape, shape) || h.Descr.Fortran {
		t.Errorf("%s: descr %s shape %v fortran %v; want %s %v", name, got, h.Descr.Shape, h.Descr.Fortran, descr, shape)
	}
}

func TestNPZEmptyDecodeIsFloat64(t *testing.T) {
	b, err := DecodeNPZ(&results.DecodeInterpolation{MaxKVTokens: 0})
	if err != nil {
		t.Fatal(err)
	}
	rd, _ := npz.NewReader(bytes.NewReader(b), int64(len(b)))
	checkArray(t, rd, "z_itl.npy", "<f8", []int{0})
	checkArray(t, rd, "max_kv_tokens.npy", "<i8", []int{1})
}

func TestWriteAtomic(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	r.Decode[3].ITLMs = nan()
	if _, err := Write(dir, r, typicalInputs("vllm", "")); err == nil || !strings.Contains(err.Error(), "results.decode[3].itlMs is NaN") {
		t.Fatalf("want a NaN error naming the field, got %v", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Fatalf("a failed Write left %v behind", entries)
	}

	// A failure after staging began (bad backend detected late) leaves nothing either.
	r = typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	r.Input.Backend = "tgi"
	in := typicalInputs("vllm", "")
	in.Settings.Backend, in.DGDR.Spec.Backend = "", ""
	if _, err := Write(dir, r, in); err == nil || !strings.Contains(err.Error(), "Unsupported backend") {
		t.Fatalf("want Unsupported backend, got %v", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Fatalf("a failed Write left %v behind", entries)
	}

	// A foreign non-empty directory is never replaced.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644)
	r = typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	if _, err := Write(dir, r, typicalInputs("vllm", "")); err == nil || !strings.Contains(err.Error(), "holds no previous profile") {
		t.Fatalf("want refusal, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious.txt")); err != nil {
		t.Fatal("foreign file lost")
	}

	// A previous profile is replaced as a whole, a smaller one included:
	// the plots of the first are gone after a --no-plots run.
	_ = os.Remove(filepath.Join(dir, "precious.txt"))
	if _, err := Write(dir, r, typicalInputs("vllm", "")); err != nil {
		t.Fatal(err)
	}
	in = typicalInputs("vllm", "")
	in.NoPlots = true
	files, err := Write(dir, r, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileCostSLA)); err == nil {
		t.Error("a plot of the previous profile survived the replacement")
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".png") {
			t.Errorf("NoPlots wrote %s", f)
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("replacement left %v behind", entries)
	}
}

func TestConfigWithPlannerRoundTrip(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	b, err := ConfigWithPlanner(r, typicalInputs("vllm", ""))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(b), "---\n")
	if len(docs) != 2 {
		t.Fatalf("want ConfigMap + DGD, got %d documents", len(docs))
	}
	var cm struct {
		Kind     string
		Metadata struct{ Name string }
		Data     map[string]string
	}
	if err := yaml.Unmarshal([]byte(docs[0]), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Metadata.Name != "planner-profile-data" || cm.Data["prefill_raw_data.json"] == "" || cm.Data["decode_raw_data.json"] == "" {
		t.Errorf("ConfigMap document: %+v", cm)
	}
	var d dgd.DynamoGraphDeployment
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &d); err != nil {
		t.Fatalf("DGD does not parse into pkg/api/dgd strictly: %v", err)
	}
	again, err := DGDYAML(&d)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != docs[1] {
		t.Errorf("DGD YAML does not round-trip:\n%s\n---\n%s", docs[1], again)
	}
	gen, err := GenerateDGD(r, typicalInputs("vllm", ""))
	if err != nil {
		t.Fatal(err)
	}
	if y, _ := DGDYAML(gen); string(y) != docs[1] {
		t.Error("GenerateDGD differs from the DGD in config_with_planner.yaml")
	}
}

func TestPlannerProfileDataJSON(t *testing.T) {
	r := typicalResults("vllm", mapping("TP", 1), mapping("TP", 1))
	m, err := PlannerProfileData(r)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(m["prefill_raw_data.json"]))
	dec.UseNumber()
	var p map[string][]json.Number
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if len(p["prefill_isl"]) != 17 || p["prefill_isl"][1] != "2621" || len(p["prefill_ttft"]) != 17 || len(p["prefill_thpt_per_gpu"]) != 17 {
		t.Errorf("prefill_raw_data.json = %s", m["prefill_raw_data.json"])
	}
	if !strings.HasPrefix(m["prefill_raw_data.json"], `{"prefill_isl": [100, 2621, `) {
		t.Errorf("prefill_isl must be integers: %.60s", m["prefill_raw_data.json"])
	}
	var d map[string]any
	dec = json.NewDecoder(strings.NewReader(m["decode_raw_data.json"]))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["max_kv_tokens"] != json.Number("643891") || len(d["z_itl"].([]any)) != 36 {
		t.Errorf("decode_raw_data.json: max_kv_tokens %v", d["max_kv_tokens"])
	}
	if y := d["y_context_length"].([]any); y[0] != json.Number("350.0") {
		t.Errorf("y_context_length must stay float: %v", y[0])
	}

	r.PrefillInterpolation.ISL = r.PrefillInterpolation.ISL[:3]
	r.PrefillInterpolation.TTFTMs = r.PrefillInterpolation.TTFTMs[:3]
	r.PrefillInterpolation.ThptPerGPU = r.PrefillInterpolation.ThptPerGPU[:3]
	if _, err := PlannerProfileData(r); err == nil || !strings.Contains(err.Error(), "at least 4") {
		t.Errorf("3 prefill points: want an error, got %v", err)
	}
	b, err := ConfigWithPlanner(r, typicalInputs("vllm", ""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "ConfigMap") || strings.Contains(string(b), "planner-profile-data") {
		t.Error("without enough data the ConfigMap and its mount must be left out")
	}
}

func nan() float64 { var z float64; return z / z }

package output

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// The window the report is rendered in, in CSS pixels (device scale 1).
const browserWidth, browserHeight = 1280, 1600

// chromium finds Debian's chromium. `make test` installs it when missing
// (hack/ensure-chromium.sh); under CI=true its absence fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: run hack/ensure-chromium.sh (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (hack/ensure-chromium.sh installs it; under CI=true this fails)")
	return ""
}

// runChromium runs a headless chromium on page with the flags it needs as
// root, in a container and without a network, plus extra.
func runChromium(t *testing.T, bin, page string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--force-device-scale-factor=1",
		"--user-data-dir=" + t.TempDir(), fmt.Sprintf("--window-size=%d,%d", browserWidth, browserHeight)}, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return out
}

// bannerBox is what the probe script leaves in the DOM: the banner's box
// in CSS pixels.
var bannerBox = regexp.MustCompile(`data-banner-box="(-?[\d.]+),(-?[\d.]+),([\d.]+),([\d.]+)"`)

// TestReportInChromium renders report.html for a met and a missed SLA and
// opens each in Debian's headless chromium. --dump-dom shows what the
// browser built: the banner with its verdict, the recommendation and the
// sweep tables with every row, the plots decoded. --screenshot shows what
// it painted: the banner is green when the SLA is met and red when not.
func TestReportInChromium(t *testing.T) {
	bin := chromium(t)
	for _, tc := range []struct {
		name    string
		r       *results.Results
		verdict string
		green   bool
	}{
		{"met", typicalResults("vllm", mapping("TP", 1), mapping("TP", 2)), "SLA met", true},
		{"missed", missedResults(), "SLA missed", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			if _, err := Write(dir, tc.r, typicalInputs("vllm", "")); err != nil {
				t.Fatal(err)
			}
			page := filepath.Join(dir, FileReport)
			html, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			// The report has no script; a copy with one records the
			// banner's box and whether every image decoded, for the DOM dump.
			probe := filepath.Join(t.TempDir(), "probe.html")
			script := `<script>
const b = document.getElementById("sla-banner").getBoundingClientRect();
document.body.setAttribute("data-banner-box", [b.x, b.y, b.width, b.height].join(","));
document.body.setAttribute("data-images-decoded", [...document.images].filter(i => i.complete && i.naturalWidth >= 1344).length);
</script></body>`
			if err := os.WriteFile(probe, []byte(strings.Replace(string(html), "</body>", script, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			dom := string(runChromium(t, bin, probe, "--dump-dom", "--virtual-time-budget=5000"))

			cls := "banner met"
			if !tc.green {
				cls = "banner missed"
			}
			for _, want := range []string{`id="sla-banner" class="` + cls + `"`, "<strong>" + tc.verdict + "</strong>",
				`<table id="recommendation">`, `<table id="prefill-sweep">`, `<table id="decode-sweep">`, `data-images-decoded="7"`} {
				if !strings.Contains(dom, want) {
					t.Errorf("the rendered DOM lacks %q", want)
				}
			}
			for id, rows := range map[string]int{"prefill-sweep": len(tc.r.Prefill), "decode-sweep": len(tc.r.Decode)} {
				if got := strings.Count(between(dom, `<table id="`+id+`">`, "</table>"), "<tr"); got != rows+1 {
					t.Errorf("%s: %d rows rendered, want a header and %d", id, got, rows)
				}
			}
			m := bannerBox.FindStringSubmatch(dom)
			if m == nil {
				t.Fatalf("the probe left no banner box in the DOM")
			}
			var box [4]float64
			for i := range box {
				box[i], _ = strconv.ParseFloat(m[i+1], 64)
			}
			if box[2] < 600 || box[3] < 40 || box[1]+box[3] > browserHeight {
				t.Fatalf("banner box %v: too small or below the fold", box)
			}

			shot := filepath.Join(t.TempDir(), "shot.png")
			runChromium(t, bin, page, "--screenshot="+shot)
			f, err := os.Open(shot)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			green, red, n := bannerColours(img, box)
			want, other := red, green
			if tc.green {
				want, other = green, red
			}
			if float64(want) < 0.7*float64(n) || other > 0 {
				t.Errorf("banner region %v: %d green and %d red of %d pixels; want it %s", box, green, red, n, map[bool]string{true: "green", false: "red"}[tc.green])
			}
		})
	}
}

// bannerColours counts the clearly green and clearly red pixels in the
// box, inset so the rounded corners are left out.
func bannerColours(img image.Image, box [4]float64) (green, red, n int) {
	x0, y0 := int(box[0])+10, int(box[1])+10
	x1, y1 := int(box[0]+box[2])-10, int(box[1]+box[3])-10
	for y := y0; y < y1; y += 2 {
		for x := x0; x < x1; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			n++
			switch {
			case g > r+60 && g > b+40:
				green++
			case r > g+60 && r > b+60:
				red++
			}
		}
	}
	return green, red, n
}

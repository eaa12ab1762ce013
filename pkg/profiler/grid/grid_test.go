package grid

import (
	"reflect"
	"strings"
	"testing"
)

// Upstream test vectors of profiler.md §18.

func TestNumRequestRangeTV02TV04(t *testing.T) {
	cases := []struct {
		dp, max, g int
		want       []int
	}{
		{1, 1200, 6, []int{1, 240, 480, 720, 960, 1200}},
		{4, 1209, 6, []int{4, 244, 484, 724, 964, 1208}},
		{4, 12, 6, []int{4, 8, 12}},
		{1, 183, 6, []int{1, 37, 73, 110, 146, 183}},
		{8, 4096, 6, []int{8, 400, 800, 1200, 1600, 2000}},
		{2, 1200, 6, []int{2, 240, 480, 720, 960, 1200}},
		{1, 0, 6, nil},
		{1, 643891 / 3500, 6, []int{1, 37, 73, 110, 146, 183}},
	}
	for _, c := range cases {
		if got := NumRequestRange(c.dp, c.max, c.g); !reflect.DeepEqual(got, c.want) {
			t.Errorf("NumRequestRange(%d, %d, %d) = %v, want %v", c.dp, c.max, c.g, got, c.want)
		}
	}
}

func TestNumRequestRangeInvariantsTV03(t *testing.T) {
	for _, c := range [][3]int{{1, 1200, 6}, {2, 1200, 6}, {4, 1209, 6}, {8, 4096, 6}, {4, 2000, 8}} {
		dp, mx, g := c[0], c[1], c[2]
		got := NumRequestRange(dp, mx, g)
		if len(got) == 0 {
			t.Fatalf("%v: empty", c)
		}
		if last := got[len(got)-1]; last > min(mx, 2000) {
			t.Errorf("%v: last %d > %d", c, last, min(mx, 2000))
		}
		for i, v := range got {
			if v%dp != 0 {
				t.Errorf("%v: %d not a multiple of %d", c, v, dp)
			}
			if i > 0 && v <= got[i-1] {
				t.Errorf("%v: not ascending: %v", c, got)
			}
		}
	}
}

func TestPrefillISLsTV05TV06(t *testing.T) {
	for _, c := range []struct{ ctx, step, last int }{{40960, 2521, 40436}, {16384, 985, 15860}, {131072, 8153, 130548}} {
		got, err := PrefillISLs(c.ctx, 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 17 || got[0] != 100 || got[1]-got[0] != c.step || got[16] != c.last {
			t.Errorf("PrefillISLs(%d) = %v", c.ctx, got)
		}
	}
	if _, err := PrefillISLs(612, 16); err == nil || !strings.Contains(err.Error(), "max_context_length 100 is too small to profile prefill") {
		t.Errorf("small context: err = %v", err)
	}
}

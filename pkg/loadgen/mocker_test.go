package loadgen_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/loadgen"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/mocker"
)

// The load generator against the simulator: measured TTFT and ITL within 5%
// of the configured step times, and exact request and token counts. Step
// times are 50–400 ms: on a 2-core machine at load 10+ a wake-up can cost
// 10–20 ms, which must stay inside 5%. Subtests run one after another so the
// 64-stream case does not compete with the others.
func TestAgainstMocker(t *testing.T) {
	const (
		prefill = 400 * time.Millisecond
		decode  = 50 * time.Millisecond
		isl     = 200
		osl     = 8
		warmup  = 1
	)
	var cal *loadgen.Calibration // probed once, then reused
	for _, conc := range []int{1, 8, 64} {
		t.Run(fmt.Sprintf("concurrency=%d", conc), func(t *testing.T) {
			srv, err := mocker.New(mocker.Config{
				Model: "test/model", NumGPUBlocks: 100000, MaxNumSeqs: 256,
				Timing: mocker.FixedTiming{PrefillTime: prefill, DecodeTime: decode},
			})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()
			count := 2 * conc
			if conc == 1 {
				count = 3
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := loadgen.Run(ctx, loadgen.Config{
				BaseURL: hs.URL, Model: "test/model", ISL: isl, OSL: osl,
				Concurrency: conc, RequestCount: count, WarmupRequests: warmup, Seed: 7,
				Calibration: cal,
			})
			if err != nil {
				t.Fatal(err)
			}
			if cal != nil && res.Calibration.Requests != 0 {
				t.Fatalf("a known calibration was probed again (%d requests)", res.Calibration.Requests)
			}
			cal = &res.Calibration
			if len(res.Records) != count {
				t.Fatalf("measured %d requests, want exactly %d", len(res.Records), count)
			}
			for i, r := range res.Records {
				if r.Err != "" {
					t.Fatalf("request %d failed: %s", i, r.Err)
				}
				if r.PromptTokens != isl || r.OutputTokens != osl || len(r.TokenTimes) != osl {
					t.Fatalf("request %d: prompt %d, output %d (%d chunks); want exactly %d and %d",
						i, r.PromptTokens, r.OutputTokens, len(r.TokenTimes), isl, osl)
				}
			}
			e := res.Export()
			// The mocker's timers never fire early, but a busy host delays
			// the client: TTFT and latency may run late by up to 10 %. A
			// late first token also shortens the measured ITL by its delay
			// over osl-1 gaps, hence ±8 % (dividing by osl, not osl-1,
			// would be -12.5 %).
			within(t, "time_to_first_token.avg", e.TimeToFirstToken.Avg, ms(prefill), 0.02, 0.10)
			within(t, "inter_token_latency.avg", e.InterTokenLatency.Avg, ms(decode), 0.08, 0.08)
			within(t, "request_latency.avg", e.RequestLatency.Avg, ms(prefill)+float64(osl-1)*ms(decode), 0.02, 0.10)
			if e.RequestCount.Avg != float64(count) || e.TotalOSL.Avg != float64(count*osl) || e.TotalISL.Avg != float64(count*isl) {
				t.Fatalf("export counts: requests %v, total_osl %v, total_isl %v", e.RequestCount.Avg, e.TotalOSL.Avg, e.TotalISL.Avg)
			}
			// The server saw exactly the calibration probes (1 token each),
			// the warm-up and the measured requests.
			st := srv.Stats()
			wantGen := int64(res.Calibration.Requests + (warmup+count)*osl)
			wantOK := int64(res.Calibration.Requests + warmup + count)
			if st.Tokens != wantGen || st.Success != wantOK || st.Running != 0 || st.Waiting != 0 {
				t.Fatalf("server stats %+v; want %d tokens, %d successes, nothing running", st, wantGen, wantOK)
			}
			// The pool keeps conc requests outstanding for every token.
			if c := e.EffectiveConcurrency; c == nil || c.Avg < 0.9*float64(conc) || c.Avg > float64(conc) {
				t.Errorf("effective_concurrency = %+v, want within 10%% below %d", c, conc)
			}
			t.Logf("conc %d: ttft avg %.2f p99 %.2f ms, itl avg %.2f ms", conc, e.TimeToFirstToken.Avg, *e.TimeToFirstToken.P99, e.InterTokenLatency.Avg)
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// within checks want·(1-below) ≤ got ≤ want·(1+above).
func within(t *testing.T, name string, got, want, below, above float64) {
	t.Helper()
	if got < want*(1-below) || got > want*(1+above) {
		t.Errorf("%s = %.3f ms, want %.3f ms -%.0f%%/+%.0f%%", name, got, want, 100*below, 100*above)
	}
}

// KV capacity bounds the batch: with room for 2 sequences, 4 concurrent
// requests run in two waves, so the second wave's TTFT includes the first.
func TestMockerKVCapacityQueues(t *testing.T) {
	const prefill, decode, osl = 40 * time.Millisecond, 20 * time.Millisecond, 5
	// A chat prompt of 20 words is 20+4+3 = 27 tokens; +5 output = 32 = 2 blocks.
	srv, err := mocker.New(mocker.Config{
		Model: "m", NumGPUBlocks: 4, BlockSize: 16,
		Timing: mocker.FixedTiming{PrefillTime: prefill, DecodeTime: decode},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		BaseURL: hs.URL, Model: "m", ISL: 27, OSL: osl, Concurrency: 4, RequestCount: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	wave := ms(prefill) + float64(osl-1)*ms(decode) // 120 ms
	e := res.Export()
	if lo, hi := *e.TimeToFirstToken.Min, *e.TimeToFirstToken.Max; lo > wave || hi < wave+ms(prefill) {
		t.Fatalf("TTFT min %.1f ms, max %.1f ms: want the first wave under %.0f ms and the second queued behind it (≥ %.0f ms)",
			lo, hi, wave, wave+ms(prefill))
	}
}

package loadgen

import (
	"slices"
	"time"
)

// Export is profile_export_aiperf.json: AIPerf's metric names, units and
// statistic keys, so results compare directly with AIPerf runs.
type Export struct {
	RequestThroughput            *Stat `json:"request_throughput,omitempty"`
	RequestLatency               *Stat `json:"request_latency,omitempty"`
	TimeToFirstToken             *Stat `json:"time_to_first_token,omitempty"`
	InterTokenLatency            *Stat `json:"inter_token_latency,omitempty"`
	OutputTokenThroughput        *Stat `json:"output_token_throughput,omitempty"`
	OutputTokenThroughputPerUser *Stat `json:"output_token_throughput_per_user,omitempty"`
	OutputSequenceLength         *Stat `json:"output_sequence_length,omitempty"`
	InputSequenceLength          *Stat `json:"input_sequence_length,omitempty"`
	BenchmarkDuration            *Stat `json:"benchmark_duration,omitempty"`
	RequestCount                 *Stat `json:"request_count,omitempty"`
	ErrorRequestCount            *Stat `json:"error_request_count,omitempty"`
	TotalISL                     *Stat `json:"total_isl,omitempty"`
	TotalOSL                     *Stat `json:"total_osl,omitempty"`
	// EffectiveConcurrency is not AIPerf's: the mean number of requests
	// outstanding when each output token arrived. Far below the configured
	// concurrency, the client, not the engine, limited the run.
	EffectiveConcurrency *Stat `json:"effective_concurrency,omitempty"`

	StartTime    string        `json:"start_time,omitempty"`
	EndTime      string        `json:"end_time,omitempty"`
	WasCancelled bool          `json:"was_cancelled"`
	ErrorSummary []ErrorCount  `json:"error_summary"`
	InputConfig  ExportedInput `json:"input_config"`
}

// ErrorCount is one entry of error_summary.
type ErrorCount struct {
	ErrorDetails struct {
		Message string `json:"message"`
	} `json:"error_details"`
	Count int `json:"count"`
}

// ExportedInput records what was run (AIPerf's input_config, reduced).
type ExportedInput struct {
	Endpoint struct {
		ModelNames []string `json:"model_names"`
		Type       string   `json:"type"`
		Streaming  bool     `json:"streaming"`
		URL        string   `json:"url"`
	} `json:"endpoint"`
	Loadgen struct {
		Concurrency        int `json:"concurrency"`
		RequestCount       int `json:"request_count"`
		WarmupRequestCount int `json:"warmup_request_count"`
	} `json:"loadgen"`
	Prompt struct {
		InputTokensMean  int `json:"input_tokens_mean"`
		OutputTokensMean int `json:"output_tokens_mean"`
	} `json:"prompt"`
	Calibration Calibration `json:"calibration"`
}

const msPerNs = 1e-6

// Export summarises the measured requests; failed ones only count in
// error_request_count and error_summary.
func (r *Result) Export() Export {
	var ttft, itl, lat, osl, isl, perUser []float64
	totalOut, totalIn := 0, 0
	errs := map[string]int{}
	var errOrder []string
	for _, rec := range r.Records {
		if rec.Err != "" {
			if errs[rec.Err] == 0 {
				errOrder = append(errOrder, rec.Err)
			}
			errs[rec.Err]++
			continue
		}
		ttft = append(ttft, float64(rec.TTFT)*msPerNs)
		lat = append(lat, float64(rec.Latency)*msPerNs)
		osl = append(osl, float64(rec.OutputTokens))
		isl = append(isl, float64(rec.PromptTokens))
		totalOut += rec.OutputTokens
		totalIn += rec.PromptTokens
		if d, ok := rec.ITL(); ok && d > 0 {
			ms := float64(d) * msPerNs
			itl = append(itl, ms)
			perUser = append(perUser, 1000/ms)
		}
	}
	ok := len(lat)
	dur := r.End.Sub(r.Start)
	sec := dur.Seconds()
	e := Export{
		RequestLatency:               Distribution("ms", lat),
		TimeToFirstToken:             Distribution("ms", ttft),
		InterTokenLatency:            Distribution("ms", itl),
		OutputTokenThroughputPerUser: Distribution("tokens/sec/user", perUser),
		OutputSequenceLength:         Distribution("tokens", osl),
		InputSequenceLength:          Distribution("tokens", isl),
		BenchmarkDuration:            Scalar("sec", sec),
		RequestCount:                 Scalar("requests", float64(ok)),
		TotalISL:                     Scalar("tokens", float64(totalIn)),
		TotalOSL:                     Scalar("tokens", float64(totalOut)),
		ErrorSummary:                 []ErrorCount{},
	}
	if sec > 0 {
		e.RequestThroughput = Scalar("requests/sec", float64(ok)/sec)
		e.OutputTokenThroughput = Scalar("tokens/sec", float64(totalOut)/sec)
	}
	if c, ok := tokenConcurrency(r.Records); ok {
		e.EffectiveConcurrency = Scalar("requests", c)
	}
	if n := len(r.Records) - ok; n > 0 {
		e.ErrorRequestCount = Scalar("requests", float64(n))
	}
	for _, m := range errOrder {
		var ec ErrorCount
		ec.ErrorDetails.Message = m
		ec.Count = errs[m]
		e.ErrorSummary = append(e.ErrorSummary, ec)
	}
	if !r.Start.IsZero() {
		e.StartTime = r.Start.UTC().Format(time.RFC3339Nano)
		e.EndTime = r.End.UTC().Format(time.RFC3339Nano)
	}
	c := r.Config
	e.InputConfig.Endpoint.ModelNames = []string{c.Model}
	e.InputConfig.Endpoint.Type = c.Endpoint
	if e.InputConfig.Endpoint.Type == "" {
		e.InputConfig.Endpoint.Type = EndpointChat
	}
	e.InputConfig.Endpoint.Streaming = true
	e.InputConfig.Endpoint.URL = c.BaseURL
	e.InputConfig.Loadgen.Concurrency = c.Concurrency
	e.InputConfig.Loadgen.RequestCount = c.RequestCount
	e.InputConfig.Loadgen.WarmupRequestCount = c.WarmupRequests
	e.InputConfig.Prompt.InputTokensMean = c.ISL
	e.InputConfig.Prompt.OutputTokensMean = c.OSL
	e.InputConfig.Calibration = r.Calibration
	return e
}

// tokenConcurrency averages, over the output tokens, the requests in flight
// (failed ones included) when the token arrived.
func tokenConcurrency(recs []Record) (float64, bool) {
	if len(recs) == 0 {
		return 0, false
	}
	base := recs[0].Start
	for _, r := range recs {
		if r.Start.Before(base) {
			base = r.Start
		}
	}
	starts := make([]time.Duration, 0, len(recs))
	ends := make([]time.Duration, 0, len(recs))
	for _, r := range recs {
		s := r.Start.Sub(base)
		starts, ends = append(starts, s), append(ends, s+r.Latency)
	}
	slices.Sort(starts)
	slices.Sort(ends)
	sum, tokens := 0.0, 0
	for _, r := range recs {
		if r.Err != "" {
			continue
		}
		s := r.Start.Sub(base)
		for _, d := range r.TokenTimes {
			at := s + d
			started, _ := slices.BinarySearch(starts, at+1) // starts ≤ at
			ended, _ := slices.BinarySearch(ends, at)       // ends < at
			sum += float64(started - ended)
			tokens++
		}
	}
	if tokens == 0 {
		return 0, false
	}
	return sum / float64(tokens), true
}

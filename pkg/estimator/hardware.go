// Package estimator is the analytic performance model that answers the SLA
// profiler's questions (prefill TTFT, decode ITL, KV capacity, memory fit)
// in microseconds, for vLLM, SGLang and TensorRT-LLM.
//
// It is a per-operator roofline with size-dependent efficiencies, an explicit
// all-reduce/all-to-all term and per-backend fixed costs; the efficiencies and
// costs are fitted (see calibrate/ and zz_generated_coefficients.go).
package estimator

import (
	"fmt"
	"sort"
	"strings"
)

// System is one GPU type as the estimator sees it. Throughputs are dense
// (no sparsity); a zero FP8/FP4 figure means the GPU has no such tensor cores.
type System struct {
	Name string
	GPU  string
	// Dense tensor throughput per GPU.
	BF16TFLOPS, FP8TFLOPS, FP4TFLOPS float64
	// HBMGiB is AI Configurator's capacity. UsableGiB is the total that
	// cudaMemGetInfo reports (what torch.cuda.mem_get_info returns and vLLM
	// and TensorRT-LLM budget from); it is smaller than nvidia-smi's total
	// (MemoryMiB) by what the driver keeps.
	HBMGiB, UsableGiB float64
	HBMBandwidthGBs   float64
	// LinkGBs is the intra-node link bandwidth per direction; LinkLatencyUs the
	// small-message latency of one collective hop.
	LinkGBs       float64
	LinkLatencyUs float64
	// InterNodeGBs is the per-GPU bandwidth when a group spans nodes.
	InterNodeGBs float64
	GPUsPerNode  int
	// MemoryMiB is the nvidia.com/gpu.memory node label value.
	MemoryMiB int
	// Generation is the GPU architecture (ampere, ada, hopper, blackwell):
	// engines' fixed per-step costs are fitted per backend and generation.
	Generation string
	// arFamily picks the fitted all-reduce table (NVLink generation).
	arFamily string
}

// UsableGiB: H100 79.18 GiB and A100 79.15 GiB as vLLM logs them
// (llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md;
// vllm-project/vllm#10511), H200 139.81 GiB and L40S 44.39 GiB from vLLM
// "total_gpu_memory" log lines; B200 and GB200 have no published figure and
// take nvidia-smi's total less the 0.6 GiB the driver keeps on H200.
var systems = []System{
	{Name: "a100_sxm", GPU: "A100 SXM 80GB", BF16TFLOPS: 312, HBMGiB: 80, UsableGiB: 79.15, HBMBandwidthGBs: 2039,
		LinkGBs: 300, LinkLatencyUs: 10, InterNodeGBs: 25, GPUsPerNode: 8, MemoryMiB: 81920, Generation: "ampere", arFamily: "a100"},
	{Name: "h100_sxm", GPU: "H100 SXM 80GB", BF16TFLOPS: 989, FP8TFLOPS: 1979, HBMGiB: 80, UsableGiB: 79.18, HBMBandwidthGBs: 3350,
		LinkGBs: 450, LinkLatencyUs: 10, InterNodeGBs: 50, GPUsPerNode: 8, MemoryMiB: 81559, Generation: "hopper", arFamily: "h100"},
	{Name: "h200_sxm", GPU: "H200 SXM 141GB", BF16TFLOPS: 989, FP8TFLOPS: 1979, HBMGiB: 141, UsableGiB: 139.81, HBMBandwidthGBs: 4800,
		LinkGBs: 450, LinkLatencyUs: 10, InterNodeGBs: 50, GPUsPerNode: 8, MemoryMiB: 143771, Generation: "hopper", arFamily: "h100"},
	{Name: "b200_sxm", GPU: "B200 HGX 180GB", BF16TFLOPS: 2250, FP8TFLOPS: 4500, FP4TFLOPS: 9000, HBMGiB: 180, UsableGiB: 178.46, HBMBandwidthGBs: 7700,
		LinkGBs: 900, LinkLatencyUs: 10, InterNodeGBs: 100, GPUsPerNode: 8, MemoryMiB: 183359, Generation: "blackwell", arFamily: "nvlink5"},
	{Name: "gb200_sxm", GPU: "GB200 NVL72 (per GPU)", BF16TFLOPS: 2500, FP8TFLOPS: 5000, FP4TFLOPS: 10000, HBMGiB: 185, UsableGiB: 184.43, HBMBandwidthGBs: 8000,
		LinkGBs: 900, LinkLatencyUs: 10, InterNodeGBs: 900, GPUsPerNode: 4, MemoryMiB: 189471, Generation: "blackwell", arFamily: "nvlink5"},
	{Name: "l40s", GPU: "L40S 48GB", BF16TFLOPS: 362.05, FP8TFLOPS: 733, HBMGiB: 45, UsableGiB: 44.39, HBMBandwidthGBs: 864,
		LinkGBs: 32, LinkLatencyUs: 20, InterNodeGBs: 50, GPUsPerNode: 8, MemoryMiB: 46068, Generation: "ada", arFamily: "pcie"},
}

var systemAliases = map[string]string{"gb200": "gb200_sxm"}

// Systems lists the canonical system ids, sorted.
func Systems() []string {
	out := make([]string, 0, len(systems))
	for _, s := range systems {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// LookupSystem finds a system by id (case-insensitive; "gb200" = gb200_sxm).
// The result is a copy the caller may modify.
func LookupSystem(name string) (*System, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	if a, ok := systemAliases[key]; ok {
		key = a
	}
	for i := range systems {
		if systems[i].Name == key {
			s := systems[i]
			return &s, nil
		}
	}
	return nil, fmt.Errorf("unknown system %q: valid systems are %s (gb200 is accepted for gb200_sxm)", name, strings.Join(Systems(), ", "))
}

// SystemForGPUProduct maps a nvidia.com/gpu.product node label to a system.
func SystemForGPUProduct(product string) (*System, error) {
	p := strings.ToUpper(strings.TrimSpace(product))
	p = strings.ReplaceAll(p, " ", "-")
	p = strings.TrimPrefix(p, "NVIDIA-")
	name := ""
	switch {
	case strings.HasPrefix(p, "GB200"):
		name = "gb200_sxm"
	case strings.HasPrefix(p, "B200"):
		name = "b200_sxm"
	case strings.HasPrefix(p, "H200") && !strings.Contains(p, "NVL"):
		name = "h200_sxm"
	case strings.HasPrefix(p, "H100") && (strings.Contains(p, "HBM3") || strings.Contains(p, "SXM")) &&
		!strings.Contains(p, "PCIE") && !strings.Contains(p, "NVL") && !strings.Contains(p, "94GB"):
		name = "h100_sxm"
	case strings.HasPrefix(p, "A100-SXM") && strings.Contains(p, "80GB"):
		name = "a100_sxm"
	case strings.HasPrefix(p, "L40S"):
		name = "l40s"
	}
	if name == "" {
		return nil, fmt.Errorf("unknown GPU product %q (node label nvidia.com/gpu.product): supported products are "+
			"NVIDIA-A100-SXM4-80GB, NVIDIA-H100-80GB-HBM3, NVIDIA-H200, NVIDIA-B200, NVIDIA-GB200 and NVIDIA-L40S; "+
			"set the system explicitly (one of %s)", product, strings.Join(Systems(), ", "))
	}
	return LookupSystem(name)
}

// peakTFLOPS is the dense GEMM peak for a weight dtype; GPUs without FP8/FP4
// tensor cores run those checkpoints at the next wider supported rate.
func (s *System) peakTFLOPS(dtype string) float64 {
	switch dtype {
	case "fp4":
		if s.FP4TFLOPS > 0 {
			return s.FP4TFLOPS
		}
		fallthrough
	case "fp8":
		if s.FP8TFLOPS > 0 {
			return s.FP8TFLOPS
		}
	}
	return s.BF16TFLOPS
}

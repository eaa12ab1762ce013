// Package workerproto is the contract between the plugin and the measure
// container of an online profiling Job (cmd/dgdr-worker): the Task its args
// encode, the Result it writes to a ConfigMap, the environment the Job gives
// it and the exit code the Job's podFailurePolicy matches. Both sides import
// it; it links neither the worker runtime nor the engine simulator.
package workerproto

import "time"

// Phases a Job measures.
const (
	PhasePrefill = "prefill"
	PhaseDecode  = "decode"
)

// Backends the measure container knows. The simulator speaks vLLM's metrics.
const (
	BackendVLLM   = "vllm"
	BackendSGLang = "sglang"
	BackendTRTLLM = "trtllm"
	BackendMocker = "mocker"
)

// Defaults of a task.
const (
	DefaultEnginePort   = 8000
	DefaultGranularity  = 6
	DefaultReadyTimeout = 30 * time.Minute
)

// Environment variables a profiling Job gives the measure container.
const (
	EnvNamespace = "POD_NAMESPACE"
	EnvDGDRName  = "DGDR_NAME"
	EnvDGDRUID   = "DGDR_UID"
	EnvNodeRank  = "NODE_RANK"
)

// ExitUsage is the exit code for a bad task: retrying cannot help, so the
// Job's podFailurePolicy fails the Job on it.
const ExitUsage = 2

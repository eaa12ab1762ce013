package jobs

import (
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// engineScript runs the engine command given as "$@", tees its output to
// the shared log (the KV fallback reads it) and keeps the engine's exit
// status. Rank-dependent multi-node flags are appended from NODE_RANK.
const engineScript = `set -o pipefail
mkdir -p ` + EngineLogDir + `
RANK="${NODE_RANK:-0}"
if [ -n "$ENGINE_RANK_ARGS" ]; then eval "set -- \"\$@\" $ENGINE_RANK_ARGS"; fi
if [ -n "$ENGINE_CONFIG_FILE" ]; then printf '%s\n' "$ENGINE_CONFIG" > "$ENGINE_CONFIG_FILE"; fi
"$@" 2>&1 | tee -a ` + EngineLogFile

// prefill is true for phases that measure TTFT.
func (s *Spec) prefill() bool { return s.Phase == PhasePrefill || s.Phase == PhasePrefillGrid }

func (s *Spec) engineContainer(job string, nodes, gpusPerPod int) (corev1.Container, error) {
	m := s.Mapping
	var env []corev1.EnvVar
	var cmd []string
	model := s.model()
	multi := nodes > 1
	leader := LeaderAddress(job, s.DGDR.Namespace)
	rankArgs := ""
	switch s.backend() {
	case BackendMocker:
		cmd = append(append([]string{}, s.workerCommand()...), "mocker",
			"--port="+itoa(s.port()), "--served-model-name="+model,
			"--mapping-kind="+m.Kind, "--num-gpus="+itoa(m.N), "--tp="+itoa(m.TP), "--ep="+itoa(m.EP), "--attn-dp="+itoa(m.AttnDP),
			"--log-file="+EngineLogFile)
		mk := s.Mocker
		if mk.PrefillMs > 0 || mk.DecodeMs > 0 {
			cmd = append(cmd, "--prefill-ms="+ftoa(mk.PrefillMs), "--decode-ms="+ftoa(mk.DecodeMs))
		} else {
			cmd = append(cmd, "--model="+cmpOr(mk.EstimatorModel, model), "--system="+cmpOr(mk.System, "h100_sxm"),
				"--backend="+cmpOr(mk.Backend, s.DGDR.Spec.Backend))
		}
		if mk.NumGPUBlocks > 0 {
			cmd = append(cmd, "--num-gpu-blocks="+itoa(mk.NumGPUBlocks))
		}
		if mk.TimeScale > 0 && mk.TimeScale != 1 {
			cmd = append(cmd, "--time-scale="+ftoa(mk.TimeScale))
		}
		if s.prefill() {
			cmd = append(cmd, "--max-num-seqs="+itoa(m.AttnDP))
		}
		if s.MaxModelLen > 0 {
			cmd = append(cmd, "--max-model-len="+itoa(s.MaxModelLen))
		}
		cmd = append(cmd, s.EngineArgs...)
		c := s.baseEngine(cmd, nil, gpusPerPod, multi)
		// The mocker image has no shell: it writes its log file itself.
		return c, nil

	case BackendVLLM:
		cmd = []string{"vllm", "serve", model, "--host=0.0.0.0", "--port=" + itoa(s.port()), "--served-model-name=" + model}
		switch m.Kind {
		case "TP":
			cmd = append(cmd, "--tensor-parallel-size="+itoa(m.N))
		case "TEP":
			cmd = append(cmd, "--tensor-parallel-size="+itoa(m.N), "--data-parallel-size=1", "--enable-expert-parallel")
		case "DEP":
			cmd = append(cmd, "--tensor-parallel-size=1", "--data-parallel-size="+itoa(m.N), "--enable-expert-parallel")
		}
		if s.prefill() {
			cmd = append(cmd, "--no-enable-prefix-caching", "--max-num-seqs="+itoa(m.AttnDP),
				"--max-num-batched-tokens="+itoa(PrefillMaxNumTokens))
		} else {
			cmd = append(cmd, "--enable-prefix-caching")
		}
		if s.MaxModelLen > 0 {
			cmd = append(cmd, "--max-model-len="+itoa(s.MaxModelLen))
		}
		if multi {
			switch m.Kind {
			case "DEP":
				cmd = append(cmd, "--data-parallel-size-local="+itoa(gpusPerPod), "--data-parallel-address="+leader,
					"--data-parallel-rpc-port="+itoa(DistInitPort))
				rankArgs = fmt.Sprintf(`--data-parallel-start-rank=$((RANK * %d)) $([ "$RANK" != 0 ] && echo --headless)`, gpusPerPod)
			default:
				cmd = append(cmd, "--nnodes="+itoa(nodes), "--master-addr="+leader, "--master-port="+itoa(DistInitPort))
				rankArgs = `--node-rank=$RANK $([ "$RANK" != 0 ] && echo --headless)`
			}
		}

	case BackendSGLang:
		cmd = []string{"python3", "-m", "sglang.launch_server", "--model-path=" + model, "--served-model-name=" + model,
			"--host=0.0.0.0", "--port=" + itoa(s.port()), "--enable-metrics", "--tp=" + itoa(m.N)}
		switch m.Kind {
		case "TEP":
			cmd = append(cmd, "--ep="+itoa(m.N))
		case "DEP":
			cmd = append(cmd, "--dp="+itoa(m.N), "--enable-dp-attention", "--ep="+itoa(m.N))
		}
		if s.prefill() {
			cmd = append(cmd, "--disable-radix-cache", "--max-running-requests="+itoa(m.AttnDP),
				"--chunked-prefill-size="+itoa(PrefillMaxNumTokens*m.AttnDP))
			if m.Kind == "DEP" {
				cmd = append(cmd, "--enable-dp-lm-head")
			}
		} else if m.Kind != "TP" {
			cmd = append(cmd, "--load-balance-method=round_robin")
		}
		if s.MaxModelLen > 0 {
			cmd = append(cmd, "--context-length="+itoa(s.MaxModelLen))
		}
		if multi {
			cmd = append(cmd, "--nnodes="+itoa(nodes), fmt.Sprintf("--dist-init-addr=%s:%d", leader, DistInitPort))
			rankArgs = `--node-rank=$RANK`
		}

	case BackendTRTLLM:
		const cfgFile = "/tmp/engine-args.yaml"
		cfg := s.trtllmConfig()
		b, err := json.Marshal(cfg)
		if err != nil {
			return corev1.Container{}, fmt.Errorf("encoding the TRT-LLM engine args: %w", err)
		}
		cmd = []string{"trtllm-serve", "serve", model, "--host=0.0.0.0", "--port=" + itoa(s.port()), "--backend=pytorch",
			"--tp_size=" + itoa(m.N), "--ep_size=" + itoa(m.EP), "--extra_llm_api_options=" + cfgFile}
		if s.MaxModelLen > 0 {
			cmd = append(cmd, "--max_seq_len="+itoa(s.MaxModelLen))
		}
		// YAML is a superset of JSON: the engine args file is the JSON.
		env = append(env, corev1.EnvVar{Name: "ENGINE_CONFIG_FILE", Value: cfgFile}, corev1.EnvVar{Name: "ENGINE_CONFIG", Value: string(b)})
		if m.Kind == "DEP" && m.N > 1 {
			env = append(env, corev1.EnvVar{Name: "TRTLLM_MOE_ENABLE_ALLTOALL_WITHOUT_ALLGATHER", Value: "1"},
				corev1.EnvVar{Name: "TRTLLM_ENABLE_PDL", Value: "1"})
		}
	}
	cmd = append(cmd, s.EngineArgs...)
	if s.prefill() {
		cmd = append(cmd, s.Recipe.Prefill...)
	} else {
		cmd = append(cmd, s.Recipe.Decode...)
	}
	if rankArgs != "" {
		env = append(env, corev1.EnvVar{Name: "ENGINE_RANK_ARGS", Value: rankArgs})
	}
	shell := append([]string{"/bin/bash", "-c", engineScript, "engine"}, cmd...)
	return s.baseEngine(shell, env, gpusPerPod, multi), nil
}

// trtllmConfig is the engine-args JSON of profiler.md §15.2–§15.4.
func (s *Spec) trtllmConfig() map[string]any {
	m := s.Mapping
	cfg := map[string]any{
		"tensor_parallel_size":     m.N,
		"enable_iter_perf_stats":   true, // /metrics then carries kvCacheStats
		"kv_cache_config":          map[string]any{"enable_block_reuse": !s.prefill()},
		"cache_transceiver_config": nil,
	}
	switch m.Kind {
	case "TEP":
		cfg["moe_expert_parallel_size"], cfg["moe_tensor_parallel_size"], cfg["enable_attention_dp"] = m.N, 1, false
	case "DEP":
		cfg["moe_expert_parallel_size"], cfg["moe_tensor_parallel_size"], cfg["enable_attention_dp"] = m.N, 1, true
		if m.N > 1 {
			cfg["moe_config"] = map[string]any{"backend": "WIDEEP"}
		}
	}
	if s.prefill() {
		cfg["disable_overlap_scheduler"] = false
		bs := max(1, m.AttnDP)
		cfg["max_batch_size"] = bs
		tokens := PrefillMaxNumTokens * m.AttnDP
		if bs > 1 {
			tokens = max(1, tokens/bs)
		}
		cfg["max_num_tokens"] = tokens
	}
	return cfg
}

func (s *Spec) baseEngine(cmd []string, env []corev1.EnvVar, gpus int, multi bool) corev1.Container {
	res := corev1.ResourceRequirements{}
	if r := s.DGDR.Spec.ProfilingConfig.Resources; r != nil && s.backend() != BackendMocker {
		res = *r.DeepCopy()
	}
	if s.backend() == BackendMocker { // the simulator is small; it only holds the GPUs
		res.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	}
	if res.Limits == nil {
		res.Limits = corev1.ResourceList{}
	}
	if res.Requests == nil {
		res.Requests = corev1.ResourceList{}
	}
	g := resource.MustParse(strconv.Itoa(gpus))
	res.Limits["nvidia.com/gpu"], res.Requests["nvidia.com/gpu"] = g, g
	mounts := []corev1.VolumeMount{{Name: "engine-logs", MountPath: EngineLogDir}}
	if s.backend() != BackendMocker {
		mounts = append(mounts, corev1.VolumeMount{Name: "dshm", MountPath: "/dev/shm"})
		if mc := s.ModelCache; mc.PVCName != "" {
			mounts = append(mounts, corev1.VolumeMount{Name: "model-cache", MountPath: cmpOr(mc.MountPath, "/opt/model-cache"),
				SubPath: mc.PVCPath, ReadOnly: true})
			env = append(env, corev1.EnvVar{Name: "HF_HOME", Value: cmpOr(mc.MountPath, "/opt/model-cache")})
		}
		secret := cmpOr(s.HFTokenSecret, DefaultHFTokenSecret)
		for _, n := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
			env = append(env, corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: HFTokenKey, Optional: ptr.To(true)}}})
		}
	}
	if multi {
		env = append([]corev1.EnvVar{nodeRankEnv()}, env...)
	}
	return corev1.Container{
		Name:          EngineContainer,
		Image:         s.engineImage(),
		Command:       cmd,
		Env:           env,
		Ports:         []corev1.ContainerPort{{Name: "http", ContainerPort: int32(s.port())}},
		Resources:     res,
		VolumeMounts:  mounts,
		RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), // native sidecar
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt(s.port())}},
			PeriodSeconds: 10, FailureThreshold: 3,
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

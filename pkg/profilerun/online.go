package profilerun

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/jobs"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/online"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/output"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profiler"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/version"
)

// DefaultOnlineTimeout is the profiling deadline of an online run (D18).
const DefaultOnlineTimeout = 4 * time.Hour

// DefaultWorkerImage runs the measure container and the engine simulator.
func DefaultWorkerImage() string {
	tag := version.Get().Version
	if tag == "dev" {
		tag = "latest"
	}
	return "ghcr.io/kubectl-dgdr/dgdr-worker:" + tag
}

// EngineImage is the image of the profiled engines: the one the deployed
// workers will run (deployment.dgd_image, deploymentOverrides.workersImage,
// which the CRD says is used for the profiling deployments too), else the
// profiler image, or the backend runtime going with v1beta1's frontend image.
func EngineImage(d *v1alpha1.DynamoGraphDeploymentRequest, st profileconfig.Settings, backend string) string {
	var workers string
	if o := d.Spec.DeploymentOverrides; o != nil {
		workers = o.WorkersImage
	}
	return cmp.Or(st.DGDImage, workers, output.RuntimeImage(d.Spec.ProfilingConfig.ProfilerImage, backend))
}

// Online profiles on real engines (or the engine simulator) in Kubernetes
// Jobs, one per (phase, mapping), run in parallel on the free GPUs. Jobs
// outlive the plugin: running it again re-attaches and reuses results.
type Online struct {
	Kube kubernetes.Interface
	// MaxParallel caps the Jobs running at once (0: as many as fit).
	MaxParallel int
	// WorkerImage defaults to DefaultWorkerImage.
	WorkerImage string
	// Mocker runs the engine simulator in place of the real engine
	// (spec.useMocker, or the plugin's --mocker flag).
	Mocker bool
	// OnJob gets every Job state change (the progress display).
	OnJob func(online.JobEvent)
	Now   func() time.Time
	// Tune lets tests adjust the Job template (engine ports, time scale).
	Tune func(*online.Options)
	// Selection is the profiler's rule (profiler.Config.Selection).
	Selection string
	// Recipe is the configMapRef base DGD: its worker flags go to the engines.
	Recipe *output.Recipe

	log []byte
}

// Log is the profile_sla.log of the last run.
func (o *Online) Log() []byte { return o.log }

// Profile implements Profiler.
func (o *Online) Profile(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, st profileconfig.Settings, hw cluster.Hardware) (*results.Results, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	model, err := profiler.LookupModel(st)
	if err != nil {
		return nil, fmt.Errorf("%w; online profiling sizes its sweep from the model's architecture (set sweep.aicHfId to a catalog model)", err)
	}
	setup, err := profiler.NewSetup(d, st, model, hw.System, hw.GPUsPerNode)
	if err != nil {
		return nil, err
	}
	cfg := setup.Config
	cfg.AICHeadRule = false // AI Configurator's heads/4 limit does not apply to real engines
	cfg.Selection = o.Selection
	if hw.MemoryMiB > 0 {
		cfg.Hardware.VRAMMiB = hw.MemoryMiB
	}
	backend := cmp.Or(st.Backend, d.Spec.Backend)
	tmpl := jobs.Spec{
		Model:       d.Spec.Model,
		WorkerImage: o.WorkerImage,
		EngineImage: EngineImage(d, st, backend),
		GPUsPerNode: cfg.Hardware.GPUsPerNode,
		ModelCache:  st.ModelCache,
		Recipe: jobs.RecipeArgs{Prefill: output.EngineArgs(o.Recipe.WorkerArgs("prefill")),
			Decode: output.EngineArgs(o.Recipe.WorkerArgs("decode"))},
	}
	if tmpl.WorkerImage == "" {
		tmpl.WorkerImage = DefaultWorkerImage()
	}
	if o.Mocker || d.Spec.UseMocker {
		tmpl.Backend = jobs.BackendMocker
		tmpl.Mocker = jobs.MockerSpec{EstimatorModel: model.HFID, System: setup.Config.Hardware.System, Backend: backend}
	}
	log := profiler.NewLogger(now)
	opts := online.Options{Client: o.Kube, DGDR: d, Template: tmpl, MaxParallel: o.MaxParallel, OnJob: o.OnJob,
		Logf: log.Infof, Warnf: log.Warnf}
	if o.Tune != nil {
		o.Tune(&opts)
	}
	m, err := online.New(opts)
	if err != nil {
		return nil, err
	}
	p := &profiler.Profiler{Measurer: m, Log: log}
	r, err := p.Run(ctx, cfg)
	o.log = log.Bytes()
	if err != nil {
		return r, err
	}
	profiler.Stamp(r, d, st)
	r.Versions.Estimator = "" // measured, not estimated
	return r, nil
}

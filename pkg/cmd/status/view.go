package status

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/dgd"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/cluster"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// View is everything `status NAME` shows; -o view-json|view-yaml prints it as is.
type View struct {
	Name              string             `json:"name"`
	Namespace         string             `json:"namespace"`
	CreationTimestamp metav1.Time        `json:"creationTimestamp"`
	Model             string             `json:"model"`
	Backend           string             `json:"backend"`
	State             string             `json:"state"`
	AutoApply         bool               `json:"autoApply"`
	SLA               *profileconfig.SLA `json:"sla,omitempty"`
	Hardware          *cluster.Hardware  `json:"hardware,omitempty"`
	Sweep             []SweepRow         `json:"sweep,omitempty"`
	Recommendation    *results.Selection `json:"recommendation,omitempty"`
	// Frontier is how far every mapping goes within the SLA.
	Frontier   []results.FrontierRow `json:"frontier,omitempty"`
	Conditions []metav1.Condition    `json:"conditions,omitempty"`
	Deployment *DeploymentView       `json:"deployment,omitempty"`
	Next       string                `json:"next"`
	Errors     []string              `json:"errors,omitempty"`
}

// SweepRow is one swept mapping with its best point.
type SweepRow struct {
	Phase       string  `json:"phase"`
	Mapping     string  `json:"mapping"`
	GPUs        int     `json:"gpus"`
	LatencyMs   float64 `json:"latencyMs"`
	ThptPerGPU  float64 `json:"throughputPerGpu"`
	Concurrency int     `json:"concurrency,omitempty"`
	MeetsSLA    bool    `json:"meetsSla"`
	Chosen      bool    `json:"chosen"`
}

// DeploymentView is the generated DGD and, once applied, its live state.
type DeploymentView struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Services  []string `json:"services,omitempty"`
	Applied   bool     `json:"applied"`
	State     string   `json:"state,omitempty"`
	Ready     bool     `json:"ready"`
}

// Gather builds the view: the DGDR, its output ConfigMap and its DGD.
// Secondary reads that fail are listed in Errors, not fatal.
func Gather(ctx context.Context, c client.Client, d *v1alpha1.DynamoGraphDeploymentRequest) *View {
	v := &View{Name: d.Name, Namespace: d.Namespace, CreationTimestamp: d.CreationTimestamp, Model: d.Spec.Model,
		Backend: cmp.Or(d.Status.Backend, d.Spec.Backend), State: string(cluster.EffectiveState(d.Status.State)),
		AutoApply: d.Spec.AutoApply, Conditions: d.Status.Conditions}
	if cfg, err := profileconfig.FromJSON(d.Spec.ProfilingConfig.Config); err == nil {
		if s, errs := cfg.Settings(); len(errs) == 0 {
			v.SLA = &s.SLA
		}
	}
	if d.Status.ProfilingResults != "" {
		out, err := cluster.ReadOutput(ctx, c, d.Namespace, d.Name)
		if err != nil {
			v.Errors = append(v.Errors, err.Error())
		} else {
			v.Hardware = out.Hardware
			if len(out.ResultsJSON) > 0 {
				var r results.Results
				if err := json.Unmarshal(out.ResultsJSON, &r); err != nil {
					v.Errors = append(v.Errors, fmt.Sprintf("reading %s from configmap/%s: %v", cluster.KeyResults, cluster.OutputConfigMapName(d.Name), err))
				} else {
					v.Sweep = sweepRows(&r)
					v.Recommendation = &r.Selection
					v.Frontier = r.FrontierRows()
				}
			}
		}
	}
	if d.Status.GeneratedDeployment != nil && len(d.Status.GeneratedDeployment.Raw) > 0 {
		name, ns := cluster.DGDName(d)
		dv := &DeploymentView{Name: name, Namespace: ns}
		var gen unstructured.Unstructured
		if err := gen.UnmarshalJSON(d.Status.GeneratedDeployment.Raw); err == nil {
			svcs, _, _ := unstructured.NestedMap(gen.Object, "spec", "services")
			for s := range svcs {
				dv.Services = append(dv.Services, s)
			}
			sort.Strings(dv.Services)
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(dgd.GroupVersion.WithKind(v1alpha1.DGDKind))
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, live)
		switch {
		case err == nil:
			dv.Applied = true
			dv.Ready, dv.State = cluster.DGDReady(live)
		case apierrors.IsNotFound(err):
		default:
			v.Errors = append(v.Errors, fmt.Sprintf("reading DynamoGraphDeployment %s/%s: %v", ns, name, err))
		}
		v.Deployment = dv
	}
	v.Next = nextStep(d, v)
	return v
}

func nextStep(d *v1alpha1.DynamoGraphDeploymentRequest, v *View) string {
	n, ns := d.Name, d.Namespace
	switch d.Status.State {
	case "", v1alpha1.StateInitializing, v1alpha1.StatePending:
		return fmt.Sprintf("kubectl dgdr profile %s -n %s", n, ns)
	case v1alpha1.StateProfiling:
		return fmt.Sprintf("profiling is running; re-attach with: kubectl dgdr profile %s -n %s", n, ns)
	case v1alpha1.StateReady:
		if v.Deployment != nil && v.Deployment.Applied && v.Deployment.Ready {
			return fmt.Sprintf("serving: kubectl get dgd %s -n %s", v.Deployment.Name, v.Deployment.Namespace)
		}
		return fmt.Sprintf("kubectl dgdr apply %s -n %s", n, ns)
	case v1alpha1.StateDeploying:
		return fmt.Sprintf("kubectl dgdr apply %s -n %s --wait", n, ns)
	case v1alpha1.StateFailed:
		return fmt.Sprintf("fix the spec, then: kubectl delete dgdr %s -n %s && kubectl dgdr create -f FILE", n, ns)
	case v1alpha1.StateDeploymentDeleted:
		return fmt.Sprintf("delete and recreate DGDR %s to redeploy", n)
	}
	return "unknown state: this plugin leaves it as it is"
}

// sweepRows keeps one row per mapping: prefill at the SLA's ISL, decode at
// its best throughput within the ITL target (else its lowest ITL).
func sweepRows(r *results.Results) []SweepRow {
	var rows []SweepRow
	sel := r.Selection
	for _, p := range r.Prefill {
		rows = append(rows, SweepRow{Phase: "prefill", Mapping: p.Mapping.Label(), GPUs: p.Mapping.N, LatencyMs: p.TTFTMs,
			ThptPerGPU: p.ThptPerGPU, MeetsSLA: p.TTFTMs <= r.Input.SLA.TTFT, Chosen: sel.Prefill != nil && sel.Prefill.Mapping == p.Mapping})
	}
	best := map[results.Mapping]results.DecodePoint{}
	var order []results.Mapping
	for _, p := range r.Decode {
		b, seen := best[p.Mapping]
		if !seen {
			order = append(order, p.Mapping)
			best[p.Mapping] = p
			continue
		}
		meets, bMeets := p.ITLMs <= r.Input.SLA.ITL, b.ITLMs <= r.Input.SLA.ITL
		switch {
		case meets && (!bMeets || p.ThptPerGPU > b.ThptPerGPU):
			best[p.Mapping] = p
		case !meets && !bMeets && p.ITLMs < b.ITLMs:
			best[p.Mapping] = p
		}
	}
	for _, m := range order {
		p := best[m]
		rows = append(rows, SweepRow{Phase: "decode", Mapping: m.Label(), GPUs: m.N, LatencyMs: p.ITLMs, ThptPerGPU: p.ThptPerGPU,
			Concurrency: p.Concurrency, MeetsSLA: p.ITLMs <= r.Input.SLA.ITL, Chosen: sel.Decode != nil && sel.Decode.Mapping == m})
	}
	return rows
}

// Summary is one row of the list table.
type Summary struct {
	Name, Namespace, Model, Backend, State, Prefill, Decode string
	// SLA is "TTFT/ITL ms"; MeetsSLA yes, no or - (-o wide).
	SLA, MeetsSLA string
	Created       metav1.Time
}

// Summaries reads the DGDRs and their results' selections (one ConfigMap
// list per call, not one read per DGDR).
func Summaries(ctx context.Context, c client.Client, items []v1alpha1.DynamoGraphDeploymentRequest, namespace string) ([]Summary, []string) {
	var errs []string
	sel := map[string]results.Selection{}
	var cms corev1.ConfigMapList
	opts := []client.ListOption{client.HasLabels{v1alpha1.LabelDGDRName}}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := c.List(ctx, &cms, opts...); err != nil {
		errs = append(errs, fmt.Sprintf("listing output ConfigMaps: %v", err))
	}
	for _, cm := range cms.Items {
		raw := cm.Data[cluster.KeyResults]
		if raw == "" {
			continue
		}
		var r results.Results
		if json.Unmarshal([]byte(raw), &r) == nil {
			sel[cm.Namespace+"/"+cm.Name] = r.Selection
		}
	}
	out := make([]Summary, 0, len(items))
	for _, d := range items {
		s := Summary{Name: d.Name, Namespace: d.Namespace, Model: d.Spec.Model, Backend: cmp.Or(d.Status.Backend, d.Spec.Backend),
			State: string(cluster.EffectiveState(d.Status.State)), Created: d.CreationTimestamp, Prefill: "-", Decode: "-", SLA: "-", MeetsSLA: "-"}
		if cfg, err := profileconfig.FromJSON(d.Spec.ProfilingConfig.Config); err == nil {
			if st, errs := cfg.Settings(); len(errs) == 0 && st.SLA.TTFT > 0 && st.SLA.ITL > 0 {
				s.SLA = fmt.Sprintf("%g/%g ms", st.SLA.TTFT, st.SLA.ITL)
			}
		}
		if r, ok := sel[d.Namespace+"/"+cluster.OutputConfigMapName(d.Name)]; ok && d.Status.ProfilingResults != "" {
			if r.Prefill != nil {
				s.Prefill = r.Prefill.Mapping.Label()
			}
			if r.Decode != nil {
				s.Decode = r.Decode.Mapping.Label()
			}
			if r.Prefill != nil && r.Decode != nil {
				s.MeetsSLA = "no"
				if r.Prefill.MeetsSLA && r.Decode.MeetsSLA {
					s.MeetsSLA = "yes"
				}
			}
		}
		out = append(out, s)
	}
	return out, errs
}

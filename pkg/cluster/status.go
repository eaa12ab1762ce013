package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/api/v1alpha1"
)

// Condition reasons and messages of spec/dgdr-api.md §7.2 (plus the success
// reasons for Validation, which upstream never writes).
const (
	ReasonValidated          = "ValidationSucceeded"
	ReasonValidationFailed   = "ValidationFailed"
	ReasonProfilingRunning   = "ProfilingRunning"
	ReasonProfilingFailed    = "ProfilingFailed"
	ReasonProfilingCompleted = "ProfilingCompleted"
	ReasonTimeout            = "Timeout"
	ReasonSpecGenerated      = "SpecGenerated"
	ReasonGenerationFailed   = "GenerationFailed"
	ReasonDeploymentCreated  = "DeploymentCreated"
	ReasonDeploymentReady    = "DeploymentReady"
	ReasonDeploymentDegraded = "DeploymentDegraded"

	MsgProfilingRunning     = "Profiling is in progress"
	MsgSpecGeneratedApply   = "DynamoGraphDeployment spec generated successfully"
	MsgSpecGeneratedNoApply = "Generated spec is available in status.generatedDeployment"
)

// Event reasons of spec/dgdr-api.md §7.3.
const (
	EventInitialized             = "Initialized"
	EventValidationFailed        = "ValidationFailed"
	EventProfilingJobCreated     = "ProfilingJobCreated"
	EventProfilingCheckFailed    = "ProfilingCheckFailed"
	EventProfilingJobFailed      = "ProfilingJobFailed"
	EventGenerationFailed        = "GenerationFailed"
	EventSpecGenerated           = "SpecGenerated"
	EventConfigMapCreationFailed = "ConfigMapCreationFailed"
	EventDeploymentCreated       = "DeploymentCreated"
	EventDeploymentCreateFailed  = "DeploymentCreationFailed"
	EventDeploymentReady         = "DeploymentReady"
	EventDeploymentDegraded      = "DeploymentDegraded"
)

// EffectiveState maps "" to Initializing (they are equivalent, §7.1).
func EffectiveState(s v1alpha1.State) v1alpha1.State {
	if s == "" {
		return v1alpha1.StateInitializing
	}
	return s
}

// Profiled reports whether a DGDR has a generated deployment to apply.
func Profiled(d *v1alpha1.DynamoGraphDeploymentRequest) bool {
	switch d.Status.State {
	case v1alpha1.StateReady, v1alpha1.StateDeploying:
		return d.Status.GeneratedDeployment != nil && len(d.Status.GeneratedDeployment.Raw) > 0
	}
	return false
}

// WrongStateError says the verb cannot run in the DGDR's current state.
type WrongStateError struct {
	Namespace, Name string
	State           v1alpha1.State
	Verb, Need      string
	Next            string // the command to run instead
	Detail          string
}

func (e *WrongStateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot %s DynamoGraphDeploymentRequest %s/%s: it is in state %q, and %s needs %s",
		e.Verb, e.Namespace, e.Name, EffectiveState(e.State), e.Verb, e.Need)
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	if e.Next != "" {
		fmt.Fprintf(&b, "; next: %s", e.Next)
	}
	return b.String()
}

// SetCondition sets one condition stamped with the DGDR's generation.
func (c *Clients) SetCondition(d *v1alpha1.DynamoGraphDeploymentRequest, typ string, status metav1.ConditionStatus, reason, msg string) {
	if len(msg) > 32768 {
		msg = msg[:32768]
	}
	meta.SetStatusCondition(&d.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: d.Generation, LastTransitionTime: metav1.NewTime(c.Now()),
	})
}

// UpdateStatus re-reads the DGDR, applies mutate and writes through the
// status subresource, retrying on conflict. mutate may run more than once.
func (c *Clients) UpdateStatus(ctx context.Context, key types.NamespacedName, mutate func(*v1alpha1.DynamoGraphDeploymentRequest) error) (*v1alpha1.DynamoGraphDeploymentRequest, error) {
	var out *v1alpha1.DynamoGraphDeploymentRequest
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d v1alpha1.DynamoGraphDeploymentRequest
		if err := c.Client.Get(ctx, key, &d); err != nil {
			return err
		}
		if err := mutate(&d); err != nil {
			return err
		}
		if err := c.Client.Status().Update(ctx, &d, client.FieldOwner(FieldManager)); err != nil {
			return err
		}
		out = &d
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("writing the status of DynamoGraphDeploymentRequest %s: %w", key, err)
	}
	return out, nil
}

// event records a core/v1 Event on the DGDR. Failures are returned but
// callers treat them as non-fatal.
func (c *Clients) event(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, typ, reason, msg string) error {
	now := metav1.NewTime(c.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: d.Name + ".",
			Namespace:    d.Namespace,
		},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.DGDRKind,
			Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion,
		},
		Type: typ, Reason: reason, Message: msg,
		Source:         corev1.EventSource{Component: FieldManager},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "nvidia.com/" + FieldManager, ReportingInstance: FieldManager,
	}
	if err := c.Client.Create(ctx, ev); err != nil {
		return fmt.Errorf("recording event %s on %s/%s: %w", reason, d.Namespace, d.Name, err)
	}
	return nil
}

// RecordEvent records an event; a failure is only printed to out.
func (c *Clients) RecordEvent(ctx context.Context, d *v1alpha1.DynamoGraphDeploymentRequest, out io.Writer, typ, reason, msg string) {
	if err := c.event(ctx, d, typ, reason, msg); err != nil && !apierrors.IsNotFound(err) {
		printf(out, "Warning: %v", err)
	}
}

// FailureDetail is the message of the first False condition.
func FailureDetail(d *v1alpha1.DynamoGraphDeploymentRequest) string {
	for _, cond := range d.Status.Conditions {
		if cond.Status == metav1.ConditionFalse && cond.Type != v1alpha1.ConditionDeploymentReady {
			return cond.Type + ": " + cond.Message
		}
	}
	return ""
}

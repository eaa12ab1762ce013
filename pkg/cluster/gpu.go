package cluster

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/estimator"
	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/profileconfig"
)

// GPU Feature Discovery node labels and the extended resource (profiler.md §5).
const (
	LabelGPUProduct = "nvidia.com/gpu.product"
	LabelGPUMemory  = "nvidia.com/gpu.memory"
	LabelGPUCount   = "nvidia.com/gpu.count"
	ResourceGPU     = corev1.ResourceName("nvidia.com/gpu")
)

// Hardware is the GPU summary a profile runs against: what discovery found
// with the user's hardware.* values laid over it (user values always win).
type Hardware struct {
	Product     string `json:"product,omitempty"`
	MemoryMiB   int    `json:"memoryMiB,omitempty"`
	GPUsPerNode int    `json:"gpusPerNode,omitempty"`
	System      string `json:"system,omitempty"`
	// Nodes is the number of nodes in the picked group; TotalGPUs their GPUs.
	Nodes     int `json:"nodes,omitempty"`
	TotalGPUs int `json:"totalGpus,omitempty"`
	// NodesChecked is how many nodes were listed.
	NodesChecked int `json:"nodesChecked"`
	// Source says where the values came from: nodes, config or both.
	Source string `json:"source"`
}

// Summary is the one-line "found" report.
func (h Hardware) Summary() string {
	var b strings.Builder
	if h.Nodes > 0 {
		fmt.Fprintf(&b, "found %d GPU node(s) of %d checked: %d × %d %s (%d MiB)",
			h.Nodes, h.NodesChecked, h.Nodes, h.GPUsPerNode, h.Product, h.MemoryMiB)
	} else {
		fmt.Fprintf(&b, "found no GPU node with GPU Feature Discovery labels (%d checked)", h.NodesChecked)
	}
	fmt.Fprintf(&b, "; profiling for system %s with %d GPUs per node", orDash(h.System), h.GPUsPerNode)
	if h.Source != "" {
		fmt.Fprintf(&b, " (from %s)", h.Source)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type nodeGPU struct {
	product   string
	memoryMiB int
	count     int
}

var digits = regexp.MustCompile(`\d+`)

// lenientInt reads the first run of digits, as the reference profiler does.
func lenientInt(s string) int {
	m := digits.FindString(s)
	if m == "" {
		return 0
	}
	n, _ := strconv.Atoi(m)
	return n
}

// nodeGPUs reads one node: the count label, else allocatable nvidia.com/gpu.
func nodeGPUs(n *corev1.Node) nodeGPU {
	g := nodeGPU{product: n.Labels[LabelGPUProduct], memoryMiB: lenientInt(n.Labels[LabelGPUMemory])}
	if v, ok := n.Labels[LabelGPUCount]; ok {
		g.count = lenientInt(v)
	}
	if g.count == 0 {
		if q, ok := n.Status.Allocatable[ResourceGPU]; ok {
			g.count = int(q.Value())
		}
	}
	return g
}

// SystemForProduct is the hardware id of profiler.md §5.3 ("" when unknown).
func SystemForProduct(product string, memoryMiB int) string {
	p := strings.ToUpper(product)
	switch {
	case strings.Contains(p, "GB200"):
		return "gb200_sxm"
	case strings.Contains(p, "B200"):
		return "b200_sxm"
	case strings.Contains(p, "H200"):
		return "h200_sxm"
	case strings.Contains(p, "H100") && strings.Contains(p, "PCIE"):
		return "h100_pcie"
	case strings.Contains(p, "H100"):
		return "h100_sxm"
	case strings.Contains(p, "A100") && strings.Contains(p, "PCIE"):
		return "a100_pcie"
	case strings.Contains(p, "A100") && memoryMiB > 0 && memoryMiB < 50000:
		return "a100_sxm_40gb"
	case strings.Contains(p, "A100"):
		return "a100_sxm"
	case strings.Contains(p, "L40S"):
		return "l40s"
	}
	return ""
}

// PickGPUs applies profiler.md §5.3 to a node list: skip nodes without GPUs
// and MIG products, group by (product, memory), pick the group with the
// highest (GPU count, memory), ties by product name.
func PickGPUs(nodes []corev1.Node) Hardware {
	type group struct {
		nodeGPU
		nodes, total int
	}
	groups := map[[2]string]*group{}
	for i := range nodes {
		g := nodeGPUs(&nodes[i])
		if g.count == 0 || strings.Contains(strings.ToUpper(g.product), "MIG") {
			continue
		}
		if g.product == "" && g.memoryMiB == 0 {
			continue // no GFD labels: nothing to profile against
		}
		k := [2]string{g.product, strconv.Itoa(g.memoryMiB)}
		gr := groups[k]
		if gr == nil {
			gr = &group{nodeGPU: g}
			groups[k] = gr
		}
		gr.count = max(gr.count, g.count)
		gr.nodes++
		gr.total += g.count
	}
	list := make([]*group, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.count != b.count {
			return a.count > b.count
		}
		if a.memoryMiB != b.memoryMiB {
			return a.memoryMiB > b.memoryMiB
		}
		return a.product < b.product
	})
	h := Hardware{NodesChecked: len(nodes)}
	if len(list) > 0 {
		g := list[0]
		h.Product, h.MemoryMiB, h.GPUsPerNode = g.product, g.memoryMiB, g.count
		h.Nodes, h.TotalGPUs = g.nodes, g.total
		h.System = SystemForProduct(g.product, g.memoryMiB)
	}
	return h
}

// DiscoverGPUs lists the nodes and lays the user's hardware settings over
// what they show. It fails when neither gives a system the estimator knows.
func DiscoverGPUs(ctx context.Context, c client.Client, s profileconfig.Settings) (Hardware, error) {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return Hardware{}, fmt.Errorf("listing nodes for GPU discovery: %w", err)
	}
	h := PickGPUs(nodes.Items)
	found := h.Nodes > 0
	user := false
	if s.System != "" {
		h.System, user = s.System, true
	}
	if s.GPUsPerNode > 0 {
		h.GPUsPerNode, user = int(s.GPUsPerNode), true
	}
	if s.GPUVramMiB > 0 {
		h.MemoryMiB, user = int(s.GPUVramMiB), true
	}
	if s.GPUModel != "" && !found {
		h.Product = s.GPUModel
	}
	switch {
	case found && user:
		h.Source = "nodes and spec.profilingConfig.config.hardware/sweep"
	case found:
		h.Source = "node labels"
	case user:
		h.Source = "spec.profilingConfig.config"
	}
	if !found && !user {
		return h, fmt.Errorf("no nodes with NVIDIA GPU Feature Discovery labels found (checked %d nodes). "+
			"Ensure GPU nodes have labels: nvidia.com/gpu.count, nvidia.com/gpu.product, nvidia.com/gpu.memory, "+
			"or set spec.profilingConfig.config.sweep.aicSystem (one of %s)", len(nodes.Items), strings.Join(estimator.Systems(), ", "))
	}
	if h.System == "" {
		return h, fmt.Errorf("no hardware profile for GPU product %q; set sweep.aicSystem to one of %v", h.Product, estimator.Systems())
	}
	sys, err := estimator.LookupSystem(h.System)
	if err != nil {
		return h, fmt.Errorf("no hardware profile for system %q; set sweep.aicSystem to one of %v", h.System, estimator.Systems())
	}
	h.System = sys.Name
	if h.GPUsPerNode == 0 {
		h.GPUsPerNode = sys.GPUsPerNode
	}
	if h.MemoryMiB == 0 {
		h.MemoryMiB = sys.MemoryMiB
	}
	return h, nil
}

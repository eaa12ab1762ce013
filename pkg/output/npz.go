package output

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/kubectl-dgdr/kubectl-dgdr/pkg/results"
)

// npzArray is one member of an npz archive, in write order.
type npzArray struct {
	name string
	data any // []float64 or []int64
}

// PrefillNPZ renders selected_prefill_interpolation/raw_data.npz
// (profiler.md §12.4): prefill_isl int64, prefill_ttft and
// prefill_thpt_per_gpu float64, all of shape (N,).
func PrefillNPZ(p *results.PrefillInterpolation) ([]byte, error) {
	if err := checkPrefillInterpolation(p); err != nil {
		return nil, err
	}
	isl, err := intsOf("prefillInterpolation.prefill_isl", p.ISL)
	if err != nil {
		return nil, err
	}
	var islArr any = isl
	if len(isl) == 0 {
		islArr = []float64{} // numpy's dtype for an empty array
	}
	return writeNPZ([]npzArray{
		{"prefill_isl", islArr},
		{"prefill_ttft", p.TTFTMs},
		{"prefill_thpt_per_gpu", p.ThptPerGPU},
	})
}

// DecodeNPZ renders selected_decode_interpolation/raw_data.npz
// (profiler.md §12.4): x_kv_usage, y_context_length, z_itl, z_thpt_per_gpu
// float64 of shape (M,) and max_kv_tokens int64 of shape (1,).
func DecodeNPZ(d *results.DecodeInterpolation) ([]byte, error) {
	if err := checkDecodeInterpolation(d); err != nil {
		return nil, err
	}
	return writeNPZ([]npzArray{
		{"x_kv_usage", d.KVUsage},
		{"y_context_length", d.ContextLength},
		{"z_itl", d.ITLMs},
		{"z_thpt_per_gpu", d.ThptPerGPU},
		{"max_kv_tokens", []int64{int64(d.MaxKVTokens)}},
	})
}

// writeNPZ writes what numpy.savez writes: a stored (uncompressed) ZIP with one
// <name>.npy member per array. Members carry no timestamp, so the same input
// gives the same bytes.
func writeNPZ(arrays []npzArray) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, a := range arrays {
		data := a.data
		if f, ok := data.([]float64); ok && f == nil {
			data = []float64{} // numpy writes empty arrays as float64 (0,)
		}
		var member bytes.Buffer
		if err := npy.Write(&member, data); err != nil {
			return nil, fmt.Errorf("encoding npz array %s: %w", a.name, err)
		}
		aligned, err := alignNPYHeader(member.Bytes(), isEmpty(data))
		if err != nil {
			return nil, fmt.Errorf("encoding npz array %s: %w", a.name, err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: a.name + ".npy", Method: zip.Store})
		if err != nil {
			return nil, fmt.Errorf("encoding npz array %s: %w", a.name, err)
		}
		if _, err := w.Write(aligned); err != nil {
			return nil, fmt.Errorf("encoding npz array %s: %w", a.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("closing npz archive: %w", err)
	}
	return buf.Bytes(), nil
}

// alignNPYHeader rewrites npyio's header as NPY 1.0 (what numpy.savez writes
// for small headers), padded so the data starts at a multiple of 64 bytes.
// An empty vector gets shape (0,): npyio writes (), a scalar, which numpy
// would fail to read without its 8 data bytes.
func alignNPYHeader(b []byte, emptyVector bool) ([]byte, error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("unexpected NPY magic")
	}
	var pre, hl int
	switch b[6] {
	case 1:
		pre, hl = 10, int(binary.LittleEndian.Uint16(b[8:10]))
	case 2:
		if len(b) < 12 {
			return nil, fmt.Errorf("truncated NPY header")
		}
		pre, hl = 12, int(binary.LittleEndian.Uint32(b[8:12]))
	default:
		return nil, fmt.Errorf("unexpected NPY version %d.%d", b[6], b[7])
	}
	if len(b) < pre+hl {
		return nil, fmt.Errorf("truncated NPY header")
	}
	dict := bytes.TrimRight(b[pre:pre+hl], " \n")
	if emptyVector {
		dict = bytes.Replace(dict, []byte("'shape': ()"), []byte("'shape': (0,)"), 1)
	}
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	if len(dict)+pad+1 > math.MaxUint16 {
		return nil, fmt.Errorf("NPY header too long (%d bytes)", len(dict))
	}
	out := make([]byte, 0, total+pad+len(b)-pre-hl)
	out = append(out, b[:6]...)
	out = append(out, 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(dict)+pad+1))
	out = append(out, dict...)
	out = append(out, bytes.Repeat([]byte{' '}, pad)...)
	out = append(out, '\n')
	return append(out, b[pre+hl:]...), nil
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case []float64:
		return len(t) == 0
	case []int64:
		return len(t) == 0
	}
	return false
}

// intsOf converts token counts stored as float64 into int64, refusing
// fractions and non-finite values, which numpy consumers would misread.
func intsOf(field string, v []float64) ([]int64, error) {
	out := make([]int64, len(v))
	for i, f := range v {
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, fmt.Errorf("%s[%d] = %v is not a whole number of tokens; the profiler must record integer ISLs", field, i, f)
		}
		out[i] = int64(f)
	}
	return out, nil
}

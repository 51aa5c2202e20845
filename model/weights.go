package model

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
)

// The weights file:
//
//	magic     8 bytes  "NSRAFTLM"
//	version   uint16   1
//	I, H, K, Q uint16  input, hidden, head hidden, quantiles
//	levels    Q × float32 quantile levels
//	params    float32 × NumParams, in Net.Params order (W, B, U, Ub, V, Vb)
//	crc32     uint32   IEEE CRC of every byte before it
//
// All little-endian. A loader never trusts a length it has not checked.

const (
	weightsMagic   = "NSRAFTLM"
	weightsVersion = 1
	// maxWeightsBytes bounds what a loader reads: far above any sane
	// model, far below memory trouble.
	maxWeightsBytes = 16 << 20
)

// Errors returned by LoadWeights; test them with errors.Is.
var (
	ErrTruncated = errors.New("weights file truncated")
	ErrChecksum  = errors.New("weights file checksum mismatch")
	ErrShape     = errors.New("weights file has the wrong shape")
	ErrVersion   = errors.New("weights file has an unknown magic or version")
	// ErrUnstable: the network's state or output leaves the finite
	// numbers on ordinary input (weights like ±3e38 overflow float32).
	ErrUnstable = errors.New("weights make the network's output non-finite")
)

// SaveWeights writes n as a weights file.
func SaveWeights(w io.Writer, n *Net) error {
	var buf bytes.Buffer
	buf.WriteString(weightsMagic)
	hdr := []uint16{weightsVersion, uint16(n.I), uint16(n.H), uint16(n.K), uint16(n.Q)}
	if err := binary.Write(&buf, binary.LittleEndian, hdr); err != nil {
		return err
	}
	taus := Quantiles()
	for q := 0; q < n.Q; q++ {
		binary.Write(&buf, binary.LittleEndian, float32(taus[q]))
	}
	for _, p := range n.Params() {
		for _, v := range p {
			binary.Write(&buf, binary.LittleEndian, float32(v))
		}
	}
	binary.Write(&buf, binary.LittleEndian, crc32.ChecksumIEEE(buf.Bytes()))
	_, err := w.Write(buf.Bytes())
	return err
}

// LoadWeights reads a weights file of the shape this build expects.
func LoadWeights(r io.Reader) (*Net, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxWeightsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read weights: %w", err)
	}
	if len(data) > maxWeightsBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrShape, maxWeightsBytes)
	}
	const hdrLen = 8 + 5*2
	if len(data) < hdrLen+4 {
		return nil, fmt.Errorf("%w: %d bytes, a header alone is %d", ErrTruncated, len(data), hdrLen+4)
	}
	if string(data[:8]) != weightsMagic {
		return nil, fmt.Errorf("%w: magic %q", ErrVersion, data[:8])
	}
	u16 := func(off int) int { return int(binary.LittleEndian.Uint16(data[off:])) }
	if v := u16(8); v != weightsVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrVersion, v, weightsVersion)
	}
	i, h, k, q := u16(10), u16(12), u16(14), u16(16)
	if i != NumFeatures || h != lstmHidden || k != headHidden || q != numQ {
		return nil, fmt.Errorf("%w: I=%d H=%d K=%d Q=%d, this build needs I=%d H=%d K=%d Q=%d", ErrShape, i, h, k, q, NumFeatures, lstmHidden, headHidden, numQ)
	}
	n := NewNet(i, h, k, q, 0)
	want := hdrLen + 4*q + 4*n.NumParams() + 4
	if len(data) < want {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrTruncated, len(data), want)
	}
	if len(data) > want {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrShape, len(data)-want)
	}
	if got, sum := crc32.ChecksumIEEE(data[:want-4]), binary.LittleEndian.Uint32(data[want-4:]); got != sum {
		return nil, fmt.Errorf("%w: computed %08x, file says %08x", ErrChecksum, got, sum)
	}
	off := hdrLen
	taus := Quantiles()
	for j := 0; j < q; j++ {
		if l := math.Float32frombits(binary.LittleEndian.Uint32(data[off:])); math.Abs(float64(l)-taus[j]) > 1e-6 {
			return nil, fmt.Errorf("%w: quantile %d is %v, want %v", ErrShape, j, l, taus[j])
		}
		off += 4
	}
	for _, p := range n.Params() {
		for j := range p {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(data[off:])))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: parameter at byte %d is %v", ErrShape, off, v)
			}
			p[j] = v
			off += 4
		}
	}
	if err := CheckFinite(n); err != nil {
		return nil, err
	}
	return n, nil
}

// CheckFinite runs the inference network (float32, as deployed) over
// probe sequences spanning the features' range and fails when any state,
// hidden activation or output stops being a finite number: such weights
// would turn the recurrent state NaN for ever and hold every decision.
// The probes are fixed (seeded), so a file passes or fails the same way
// on every machine.
func CheckFinite(n *Net) error {
	m := NewInference(n)
	rng := rand.New(rand.NewPCG(1, 2))
	const sequences, steps = 8, 64
	for seq := 0; seq < sequences; seq++ {
		var st lstmState
		var x [NumFeatures]float64
		for t := 0; t < steps; t++ {
			for i := range x {
				switch seq {
				case 0: // all features absent
					x[i] = 0
				case 1: // every feature at the top of its range
					x[i] = maxFeature
				default:
					x[i] = rng.Float64() * maxFeature
				}
			}
			m.step(&st, &x)
			if err := finite32(st.c[:], st.xh[NumFeatures:], st.a[:], st.y[:]); err != nil {
				return fmt.Errorf("%w: %v after %d steps of probe sequence %d", ErrUnstable, err, t+1, seq)
			}
			for q, y := range st.y {
				// y is the log of a heartbeat gap in Units: ±maxFeature
				// spans far more than a day either way.
				if y > maxFeature || y < -maxFeature {
					return fmt.Errorf("%w: quantile %d forecasts log gap %v after %d steps of probe sequence %d", ErrUnstable, q, y, t+1, seq)
				}
			}
		}
	}
	return nil
}

// maxFeature bounds what Features produces (log1p of a day in Units, or of
// a count), with room to spare.
const maxFeature = 50

func finite32(xs ...[]float32) error {
	for _, s := range xs {
		for _, v := range s {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("a value is %v", f)
			}
		}
	}
	return nil
}

//go:embed default.nsw
var defaultWeights []byte

// DefaultNet loads the embedded default weights.
func DefaultNet() (*Net, error) { return LoadWeights(bytes.NewReader(defaultWeights)) }

package model

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
)

func tinySeq(r *rand.Rand, n, in int) ([][]float64, []float64, []bool) {
	xs := make([][]float64, n)
	ys := make([]float64, n)
	mask := make([]bool, n)
	for t := range xs {
		xs[t] = make([]float64, in)
		for k := range xs[t] {
			xs[t][k] = r.NormFloat64()
		}
		ys[t] = r.NormFloat64()
		mask[t] = t%3 != 0
	}
	return xs, ys, mask
}

// TestGradientCheck compares backpropagation through time with central
// finite differences on a tiny network, parameter by parameter.
func TestGradientCheck(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := NewNet(3, 4, 3, numQ, 5)
	xs, ys, mask := tinySeq(r, 7, 3)
	g := n.zeroLike()
	n.lossGrad(xs, ys, mask, g)
	loss := func() float64 {
		l, _ := n.lossGrad(xs, ys, mask, n.zeroLike())
		return l
	}
	const eps = 1e-6
	checked := 0
	for pi, p := range n.Params() {
		gp := g.Params()[pi]
		for j := range p {
			old := p[j]
			p[j] = old + eps
			up := loss()
			p[j] = old - eps
			down := loss()
			p[j] = old
			num := (up - down) / (2 * eps)
			den := math.Max(1e-8, math.Abs(num)+math.Abs(gp[j]))
			if rel := math.Abs(num-gp[j]) / den; rel > 1e-4 && math.Abs(num-gp[j]) > 1e-7 {
				t.Fatalf("param group %d index %d: analytic %.9g, numeric %.9g (rel %.2g)", pi, j, gp[j], num, rel)
			}
			checked++
		}
	}
	if checked != n.NumParams() {
		t.Fatalf("checked %d of %d parameters", checked, n.NumParams())
	}
}

func TestInferenceMatchesTrainingForward(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := NewNet(NumFeatures, lstmHidden, headHidden, numQ, 9)
	xs, _, _ := tinySeq(r, 30, NumFeatures)
	caches := n.forward(xs)
	m := NewInference(n)
	var st lstmState
	var x [NumFeatures]float64
	for ti, xv := range xs {
		copy(x[:], xv)
		m.step(&st, &x)
		for q := 0; q < numQ; q++ {
			if d := math.Abs(float64(st.y[q]) - caches[ti].y[q]); d > 1e-3 {
				t.Fatalf("step %d quantile %d: float32 %v vs float64 %v", ti, q, st.y[q], caches[ti].y[q])
			}
		}
	}
}

func TestTrainIsDeterministicAndLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: trains two networks for many epochs")
	}
	// A synthetic task: the target is the running level of feature 1.
	r := rand.New(rand.NewPCG(7, 7))
	var seqs []Sequence
	for s := 0; s < 6; s++ {
		xs, ys, mask := tinySeq(r, 200, NumFeatures)
		level := 0.0
		for ti := range xs {
			level = 0.9*level + 0.1*xs[ti][1]
			ys[ti] = 2 * level
			mask[ti] = true
		}
		seqs = append(seqs, Sequence{X: xs, Y: ys, Mask: mask})
	}
	var losses []float64
	cfg := TrainConfig{Epochs: 6, Seed: 3, Progress: func(_, _ int, l float64) { losses = append(losses, l) }}
	a, err := Train(seqs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if losses[len(losses)-1] > 0.6*losses[0] {
		t.Fatalf("loss did not fall: %v", losses)
	}
	b, _ := Train(seqs, TrainConfig{Epochs: 6, Seed: 3})
	var ba, bb bytes.Buffer
	SaveWeights(&ba, a)
	SaveWeights(&bb, b)
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Fatal("same data and seed gave different weights")
	}
	if _, err := Train(nil, cfg); err == nil {
		t.Fatal("training on nothing succeeded")
	}
}

func TestWeightsRoundTripAndErrors(t *testing.T) {
	n := NewNet(NumFeatures, lstmHidden, headHidden, numQ, 1)
	var buf bytes.Buffer
	if err := SaveWeights(&buf, n); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	m, err := LoadWeights(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.W[100]-n.W[100]) > 1e-6 {
		t.Fatal("weights changed in a round trip beyond float32 rounding")
	}
	corrupt := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":          {nil, ErrTruncated},
		"truncated":      {good[:len(good)/2], ErrTruncated},
		"no checksum":    {good[:len(good)-4], ErrTruncated},
		"flipped bit":    {corrupt(func(b []byte) []byte { b[500] ^= 1; return b }), ErrChecksum},
		"wrong magic":    {corrupt(func(b []byte) []byte { b[0] = 'X'; return b }), ErrVersion},
		"future version": {corrupt(func(b []byte) []byte { b[8] = 9; return b }), ErrVersion},
		"wrong hidden":   {corrupt(func(b []byte) []byte { b[12] = 8; return b }), ErrShape},
		"trailing bytes": {append(append([]byte(nil), good...), 0, 0), ErrShape},
	}
	for name, tc := range cases {
		if _, err := LoadWeights(bytes.NewReader(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestDefaultWeightsLoadAndPropose(t *testing.T) {
	n, err := DefaultNet()
	if err != nil {
		t.Fatalf("embedded weights: %v", err)
	}
	if len(defaultWeights) > 128<<10 {
		t.Fatalf("embedded weights are %d bytes, budget 128 KB", len(defaultWeights))
	}
	if p := n.NumParams(); p < 15000 || p > 19000 {
		t.Fatalf("%d parameters, want about 17K", p)
	}
	l := NewLSTM("lstm", NewInference(n))
	// A steady LAN follower: the proposal must sit above the heartbeat
	// interval and well below a second.
	for i := 0; i < 200; i++ {
		s := follower(50 * time.Millisecond)
		s.CPUIdlePct, s.RTTP99, s.RTTStdDev = 60, time.Millisecond, 100*time.Microsecond
		s.Set(collector.FieldCPUIdle | collector.FieldRTT)
		l.Observe(s)
	}
	p := l.Propose()
	if p.Timeout < 50*time.Millisecond || p.Timeout > time.Second || p.Confidence <= 0 || p.Confidence > 1 {
		t.Fatalf("steady LAN proposal %+v", p)
	}
}

func BenchmarkLSTMStep(b *testing.B) {
	n := NewNet(NumFeatures, lstmHidden, headHidden, numQ, 1)
	l := NewLSTM("lstm", NewInference(n))
	s := follower(50 * time.Millisecond)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Observe(s)
		_ = l.Propose()
	}
}

func BenchmarkLSTMFootprint(b *testing.B) {
	// The model's weights plus one node's state, in bytes: budget 128 KB.
	var m Inference
	var l LSTM
	b.ReportMetric(float64(unsafeSizeof(m)+unsafeSizeof(l)), "bytes/node")
}

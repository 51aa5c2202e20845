package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/nsraft/nsraft/collector"
)

// patched returns the default weights with parameter i set to v and the
// checksum made valid again: the file is well formed, only its values
// are hostile.
func patched(i int, v float32) []byte {
	data := bytes.Clone(defaultWeights)
	const hdrLen = 8 + 5*2
	nParams := (len(data) - hdrLen - 4*numQ - 4) / 4
	off := hdrLen + 4*numQ + 4*(i%nParams)
	binary.LittleEndian.PutUint32(data[off:], math.Float32bits(v))
	binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.ChecksumIEEE(data[:len(data)-4]))
	return data
}

// TestHugeWeightsAreRefused: ±3e38 with a valid checksum used to load and
// turn the LSTM's state NaN for ever.
func TestHugeWeightsAreRefused(t *testing.T) {
	var buf bytes.Buffer
	n, err := DefaultNet()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range n.Params() {
		for j := range p {
			if j%2 == 0 {
				p[j] = 3e38
			} else {
				p[j] = -3e38
			}
		}
	}
	if err := SaveWeights(&buf, n); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWeights(&buf); !errors.Is(err, ErrUnstable) {
		t.Fatalf("±3e38 weights: %v, want ErrUnstable", err)
	}
	// One hostile output bias is enough: every forecast would be e^3e38.
	if _, err := LoadWeights(bytes.NewReader(patched(n.NumParams()-1, 3e38))); !errors.Is(err, ErrUnstable) {
		t.Fatalf("one 3e38 output bias: %v, want ErrUnstable", err)
	}
	// The real weights pass.
	if _, err := LoadWeights(bytes.NewReader(defaultWeights)); err != nil {
		t.Fatal(err)
	}
}

// FuzzLoadWeights feeds whole files: small seeds (headers cut at every
// stage) keep the fuzzer fast; a full 64 KB seed would spend the whole
// budget minimising itself.
func FuzzLoadWeights(f *testing.F) {
	const hdrLen = 8 + 5*2
	f.Add([]byte("NSRAFTLM"))
	f.Add(defaultWeights[:hdrLen])
	f.Add(defaultWeights[:hdrLen+4*numQ+16])
	f.Add([]byte("NSRAFTLM\x02\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := LoadWeights(bytes.NewReader(data))
		if err == nil && n.NumParams() == 0 {
			t.Fatal("loaded an empty network")
		}
	})
}

// FuzzWeightValues patches one parameter of the real weights (checksum
// fixed up) and runs the loaded network: whatever loads must propose a
// finite, positive timeout.
func FuzzWeightValues(f *testing.F) {
	f.Add(0, float32(3e38))
	f.Add(100, float32(-1e20))
	f.Add(17000, float32(math.NaN()))
	f.Add(5, float32(0.5))
	f.Fuzz(func(t *testing.T, i int, v float32) {
		if i < 0 {
			i = -i
		}
		n, err := LoadWeights(bytes.NewReader(patched(i, v)))
		if err != nil {
			return
		}
		l := NewLSTM("lstm", NewInference(n))
		for k := 0; k < 64; k++ {
			s := collector.Sample{Role: collector.RoleFollower, Leader: "n1", LastContact: 10e6, HeartbeatGap: 60e6}
			s.Set(collector.FieldRole | collector.FieldLeader | collector.FieldLastContact | collector.FieldHeartbeatGap)
			l.Observe(s)
		}
		p := l.Propose()
		if p.Timeout <= 0 || math.IsNaN(p.Confidence) {
			t.Fatalf("parameter %d = %v loaded, then proposed %v (confidence %v)", i, v, p.Timeout, p.Confidence)
		}
	})
}

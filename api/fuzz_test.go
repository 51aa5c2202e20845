package api

import (
	"math"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
)

// FuzzSampleCodec decodes arbitrary bytes as a wire Sample: decoding never
// panics, and a decoded sample survives the round trip FromSample →
// ToSample unchanged (what the agent logs and replays to watchers is what
// the host sent).
func FuzzSampleCodec(f *testing.F) {
	s := collector.Sample{At: time.Unix(1700000000, 5), Node: "n1", Leader: "n2", Term: 7, ClusterSize: 5, PreVote: true,
		LastContact: 20 * time.Millisecond, HeartbeatGap: 60 * time.Millisecond, CPUIdlePct: 55, RTTMean: time.Millisecond,
		RTTP99: 3 * time.Millisecond, ElectionsInWindow: 1, HeartbeatTimeout: time.Second, DiskSyncP99: 4 * time.Millisecond}
	s.Present = collector.AllFields
	full, _ := proto.Marshal(FromSample(s))
	f.Add(full)
	f.Add([]byte{})
	nan, _ := proto.Marshal(&nsraftv1.Sample{CpuIdlePct: proto.Float64(math.NaN()), ClusterSize: proto.Int64(math.MaxInt64)})
	f.Add(nan)
	f.Fuzz(func(t *testing.T, data []byte) {
		var p nsraftv1.Sample
		if proto.Unmarshal(data, &p) != nil {
			return
		}
		a := ToSample(&p)
		b := ToSample(FromSample(a))
		if math.IsNaN(a.CPUIdlePct) && math.IsNaN(b.CPUIdlePct) {
			a.CPUIdlePct, b.CPUIdlePct = 0, 0
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the sample:\n%+v\n%+v", a, b)
		}
	})
}

package api

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
)

// wireField is the presence bit that carries each measured field of a
// collector.Sample over the wire. Node, At and Present are the identity.
var wireField = map[string]collector.Field{
	"Role": collector.FieldRole, "Term": collector.FieldTerm, "Leader": collector.FieldLeader,
	"ClusterSize": collector.FieldClusterSize, "PreVote": collector.FieldPreVote,
	"LastContact": collector.FieldLastContact, "HeartbeatGap": collector.FieldHeartbeatGap,
	"ReplicationGap": collector.FieldReplicationGap, "RPCRetries": collector.FieldRPCRetries,
	"RPCFailures": collector.FieldRPCFailures, "CPUIdlePct": collector.FieldCPUIdle,
	"RTTMean": collector.FieldRTT, "RTTStdDev": collector.FieldRTT, "RTTP99": collector.FieldRTT,
	"ElectionsInWindow": collector.FieldElections, "FailedElectionsInWindow": collector.FieldElections,
	"LeaderStableFor": collector.FieldLeaderStableFor, "UnreachableVoters": collector.FieldUnreachableVoters,
	"HeartbeatTimeout": collector.FieldHostTimeouts, "ElectionTimeout": collector.FieldHostTimeouts,
	"LeaderLeaseTimeout": collector.FieldHostTimeouts, "HeartbeatInterval": collector.FieldHostTimeouts,
	"DiskSyncP99": collector.FieldDiskSync,
	"Voters":      collector.FieldVoters, "VoteLease": collector.FieldVoters,
}

var identity = map[string]bool{"Node": true, "At": true, "Present": true}

// Every field of collector.Sample is either identity or carried under a
// presence bit, and every bit carries a field: a field added to Sample
// fails here until the codec and this table know it.
func TestWireFieldsCoverSample(t *testing.T) {
	var used collector.Field
	typ := reflect.TypeOf(collector.Sample{})
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		f, ok := wireField[name]
		if !ok && !identity[name] {
			t.Errorf("collector.Sample.%s has no wire field", name)
		}
		used |= f
	}
	if used != collector.AllFields {
		t.Errorf("bits carrying no field: %s", collector.AllFields&^used)
	}
}

// randomSample fills every field with a random value the wire can carry
// (counts within int32, valid roles, UTF-8 strings) and marks a random
// subset present.
func randomSample(r *rand.Rand) collector.Sample {
	var s collector.Sample
	v := reflect.ValueOf(&s).Elem()
	str := func() string {
		const alphabet = "abcn0123456789-é☃"
		rs := []rune(alphabet)
		b := make([]rune, r.IntN(6))
		for i := range b {
			b[i] = rs[r.IntN(len(rs))]
		}
		return string(b)
	}
	for name := range wireField {
		f := v.FieldByName(name)
		switch {
		case f.Type() == reflect.TypeOf(collector.Role(0)):
			f.SetUint(uint64(r.IntN(int(collector.RoleShutdown) + 1)))
		case f.Type() == reflect.TypeOf(time.Duration(0)):
			f.SetInt(r.Int64() - math.MaxInt64/2)
		case f.Kind() == reflect.Int:
			f.SetInt(int64(r.Int32()) - int64(r.Int32()))
		case f.Kind() == reflect.Uint64:
			f.SetUint(r.Uint64())
		case f.Kind() == reflect.String:
			f.SetString(str())
		case f.Kind() == reflect.Bool:
			f.SetBool(r.IntN(2) == 1)
		case f.Type() == reflect.TypeOf([]string(nil)):
			// An empty list travels as none: nil, not a zero-length slice.
			if n := r.IntN(4); n > 0 {
				ids := make([]string, n)
				for i := range ids {
					ids[i] = str()
				}
				f.Set(reflect.ValueOf(ids))
			}
		case f.Kind() == reflect.Float64:
			f.SetFloat((r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(20))))
		default:
			panic("randomSample: no generator for " + name)
		}
	}
	s.Node = str()
	if r.IntN(4) > 0 {
		s.At = time.Unix(0, r.Int64N(math.MaxInt64))
	}
	s.Present = collector.Field(r.Uint32()) & collector.AllFields
	return s
}

// Every sample survives FromSample → wire bytes → ToSample: present
// fields with their values, absent fields as zero (never a made-up
// measurement), over thousands of random samples.
func TestSampleRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 7))
	for i := 0; i < 5000; i++ {
		in := randomSample(r)
		b, err := proto.Marshal(FromSample(in))
		if err != nil {
			t.Fatalf("sample %d: marshal: %v", i, err)
		}
		var p nsraftv1.Sample
		if err := proto.Unmarshal(b, &p); err != nil {
			t.Fatalf("sample %d: unmarshal: %v", i, err)
		}
		got := ToSample(&p)
		want := in
		wv := reflect.ValueOf(&want).Elem()
		for name, f := range wireField {
			if !in.Has(f) {
				fv := wv.FieldByName(name)
				fv.Set(reflect.Zero(fv.Type()))
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("sample %d changed on the wire:\n sent %+v\n got  %+v", i, want, got)
		}
	}
}

// Counts beyond int32 are clamped on decoding, so hostile values cannot
// overflow arithmetic downstream; the sample keeps them present for the
// policy to judge.
func TestToSampleClampsCounts(t *testing.T) {
	s := ToSample(&nsraftv1.Sample{ClusterSize: proto.Int64(math.MaxInt64), RpcRetries: proto.Int64(math.MinInt64),
		Elections: &nsraftv1.Elections{InWindow: 1 << 40}})
	if s.ClusterSize != 1<<31-1 || s.RPCRetries != -1<<31 || s.ElectionsInWindow != 1<<31-1 {
		t.Fatalf("not clamped: %+v", s)
	}
	if !s.Has(collector.FieldClusterSize | collector.FieldRPCRetries | collector.FieldElections) {
		t.Fatalf("clamped fields lost their presence: %s", s.Present)
	}
}

package refcluster

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// OpKind is the kind of a recorded client operation.
type OpKind string

// Operation kinds the workload issues.
const (
	OpPut OpKind = "put"
	OpGet OpKind = "get"
)

// Op is one client operation as the client saw it.
type Op struct {
	Client int           `json:"client"`
	Kind   OpKind        `json:"kind"`
	Key    string        `json:"key"`
	Value  string        `json:"value,omitempty"` // written value (put) or value read (get)
	Found  bool          `json:"found,omitempty"` // get: the key existed
	Call   time.Duration `json:"call_ns"`         // since the start of the history
	Return time.Duration `json:"return_ns"`
	// Ok: the operation completed and its result is known. Unknown: a put
	// that may or may not have taken effect (timeout, leadership lost).
	// Neither: definitely rejected, no effect.
	Ok      bool   `json:"ok"`
	Unknown bool   `json:"unknown,omitempty"`
	Error   string `json:"error,omitempty"`
}

type kvInput struct {
	put   bool
	key   string
	value string
}

type kvOutput struct {
	found bool
	value string
}

// kvModel is the sequential specification of the store, partitioned by
// key: a history is linearizable iff every key's sub-history is.
var kvModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	// State: the key's value, or nil when absent.
	Init: func() any { return (*string)(nil) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		cur := state.(*string)
		if in.put {
			v := in.value
			return true, &v
		}
		out := output.(kvOutput)
		if cur == nil {
			return !out.found, state
		}
		return out.found && out.value == *cur, state
	},
	Equal: func(a, b any) bool {
		x, y := a.(*string), b.(*string)
		if x == nil || y == nil {
			return x == y
		}
		return *x == *y
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.put {
			return fmt.Sprintf("put(%s, %q)", in.key, in.value)
		}
		out := output.(kvOutput)
		return fmt.Sprintf("get(%s) → %q found=%v", in.key, out.value, out.found)
	},
}

// Verdict is the result of a linearizability check.
type Verdict string

// Verdicts of CheckLinearizable.
const (
	Linearizable    Verdict = "linearizable"
	NotLinearizable Verdict = "NOT linearizable"
	CheckTimedOut   Verdict = "check timed out"
)

// CheckLinearizable checks a history with porcupine. A put with an unknown
// outcome may take effect at any point after its call, so it is given an
// open-ended return; a get without a result says nothing and is dropped, as
// are definitely rejected operations.
func CheckLinearizable(ops []Op, timeout time.Duration) Verdict {
	var h []porcupine.Operation
	for _, op := range ops {
		switch {
		case op.Kind == OpPut && (op.Ok || op.Unknown):
			ret := int64(op.Return)
			if !op.Ok {
				ret = math.MaxInt64
			}
			h = append(h, porcupine.Operation{ClientId: op.Client, Input: kvInput{put: true, key: op.Key, value: op.Value},
				Call: int64(op.Call), Output: kvOutput{}, Return: ret})
		case op.Kind == OpGet && op.Ok:
			h = append(h, porcupine.Operation{ClientId: op.Client, Input: kvInput{key: op.Key},
				Call: int64(op.Call), Output: kvOutput{found: op.Found, value: op.Value}, Return: int64(op.Return)})
		}
	}
	switch porcupine.CheckOperationsTimeout(kvModel, h, timeout) {
	case porcupine.Ok:
		return Linearizable
	case porcupine.Illegal:
		return NotLinearizable
	default:
		return CheckTimedOut
	}
}

package policy

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// Rule conditions and bounds are HCL expressions compiled once, at parse
// time, into closures over a fixed array of variables: type errors and
// unknown variables are reported with their position before the policy is
// ever used, and evaluating a rule on every tick allocates nothing.

type kind uint8

const (
	kindNumber kind = iota
	kindBool
	kindString
)

func (k kind) String() string {
	return [...]string{"number", "bool", "string"}[k]
}

// val is an evaluated value. known is false when it depends on a sample
// field that was not measured: such a value propagates, and a condition
// that is not known does not fire.
type val struct {
	known bool
	n     float64
	b     bool
	s     string
}

type compiled func(e *env) val

// varID indexes a telemetry variable.
type varID uint8

// The telemetry variables a rule can read. Units are in the names.
const (
	varRole varID = iota
	varTerm
	varClusterSize
	varPreVote
	varUnreachableVoters
	varLastContactMS
	varHeartbeatGapMS
	varRTTMeanMS
	varRTTStdDevMS
	varRTTP99MS
	varElections
	varFailedElections
	varLeaderStableForMS
	varCPUIdlePct
	varReplicationGap
	varRPCRetries
	varRPCFailures
	varDiskSyncP99MS
	varHeartbeatIntervalMS
	varCurrentTimeoutMS
	varProposalMS
	varConfidence
	varUnstable
	varCalmForMS
	numVars
)

type varSpec struct {
	name  string
	kind  kind
	field collector.Field // 0: always known
	doc   string
}

var vars = [numVars]varSpec{
	varRole:                {"role", kindString, collector.FieldRole, `"leader", "follower", "candidate" or "unknown"`},
	varTerm:                {"term", kindNumber, collector.FieldTerm, "current Raft term"},
	varClusterSize:         {"cluster_size", kindNumber, collector.FieldClusterSize, "number of voters"},
	varPreVote:             {"prevote", kindBool, collector.FieldPreVote, "whether the host runs pre-vote"},
	varUnreachableVoters:   {"unreachable_voters", kindNumber, collector.FieldUnreachableVoters, "voters other than this node it cannot reach"},
	varLastContactMS:       {"last_contact_ms", kindNumber, collector.FieldLastContact, "time since the leader was last heard from"},
	varHeartbeatGapMS:      {"heartbeat_gap_ms", kindNumber, collector.FieldHeartbeatGap, "longest gap between leader contacts in the tick"},
	varRTTMeanMS:           {"rtt_mean_ms", kindNumber, collector.FieldRTT, "mean RPC round trip to peers"},
	varRTTStdDevMS:         {"rtt_stddev_ms", kindNumber, collector.FieldRTT, "standard deviation of the round trip"},
	varRTTP99MS:            {"rtt_p99_ms", kindNumber, collector.FieldRTT, "99th percentile of the round trip"},
	varElections:           {"elections", kindNumber, collector.FieldElections, "elections seen in the collector's window"},
	varFailedElections:     {"failed_elections", kindNumber, collector.FieldElections, "elections in the window that produced no leader"},
	varLeaderStableForMS:   {"leader_stable_for_ms", kindNumber, collector.FieldLeaderStableFor, "how long the same leader has held the same term"},
	varCPUIdlePct:          {"cpu_idle_pct", kindNumber, collector.FieldCPUIdle, "host CPU idle share, 0-100"},
	varReplicationGap:      {"replication_gap", kindNumber, collector.FieldReplicationGap, "log entries behind the leader's commit index"},
	varRPCRetries:          {"rpc_retries", kindNumber, collector.FieldRPCRetries, "Raft RPCs retried in the tick"},
	varRPCFailures:         {"rpc_failures", kindNumber, collector.FieldRPCFailures, "Raft RPCs failed in the tick"},
	varDiskSyncP99MS:       {"disk_sync_p99_ms", kindNumber, collector.FieldDiskSync, "99th percentile of durable-write latency"},
	varHeartbeatIntervalMS: {"heartbeat_interval_ms", kindNumber, collector.FieldHostTimeouts, "the leader's heartbeat interval in force"},
	varCurrentTimeoutMS:    {"current_timeout_ms", kindNumber, 0, "the election timeout in force"},
	varProposalMS:          {"proposal_ms", kindNumber, 0, "the recommender's proposed timeout"},
	varConfidence:          {"confidence", kindNumber, 0, "the recommender's confidence, 0-1"},
	varUnstable:            {"unstable", kindBool, 0, "the policy's own instability verdict (risk cap)"},
	varCalmForMS:           {"calm_for_ms", kindNumber, 0, "how long the node has been calm since the calm span began or the value last went down"},
}

func lookupVar(name string) (varID, bool) {
	for i, v := range vars {
		if v.name == name {
			return varID(i), true
		}
	}
	return 0, false
}

// VariableNames lists the variables rule expressions may use, sorted.
func VariableNames() []string {
	out := make([]string, 0, numVars)
	for _, v := range vars {
		out = append(out, v.name)
	}
	sort.Strings(out)
	return out
}

// env holds one evaluation's variable values.
type env struct {
	v [numVars]val
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fill loads the variables from a sample and the decision in progress.
func (e *env) fill(s *collector.Sample, current time.Duration, p model.Proposal, unstable bool, calm time.Duration) {
	num := func(id varID, x float64) { e.v[id] = val{known: true, n: x} }
	num(varTerm, float64(s.Term))
	num(varClusterSize, float64(s.ClusterSize))
	e.v[varPreVote] = val{known: true, b: s.PreVote}
	e.v[varRole] = val{known: true, s: s.Role.String()}
	num(varUnreachableVoters, float64(s.UnreachableVoters))
	num(varLastContactMS, ms(s.LastContact))
	num(varHeartbeatGapMS, ms(s.HeartbeatGap))
	num(varRTTMeanMS, ms(s.RTTMean))
	num(varRTTStdDevMS, ms(s.RTTStdDev))
	num(varRTTP99MS, ms(s.RTTP99))
	num(varElections, float64(s.ElectionsInWindow))
	num(varFailedElections, float64(s.FailedElectionsInWindow))
	num(varLeaderStableForMS, ms(s.LeaderStableFor))
	num(varCPUIdlePct, s.CPUIdlePct)
	num(varReplicationGap, float64(s.ReplicationGap))
	num(varRPCRetries, float64(s.RPCRetries))
	num(varRPCFailures, float64(s.RPCFailures))
	num(varDiskSyncP99MS, ms(s.DiskSyncP99))
	num(varHeartbeatIntervalMS, ms(s.HeartbeatInterval))
	num(varCurrentTimeoutMS, ms(current))
	num(varProposalMS, ms(p.Timeout))
	num(varConfidence, p.Confidence)
	e.v[varUnstable] = val{known: true, b: unstable}
	num(varCalmForMS, ms(calm))
	for i, spec := range vars {
		if spec.field != 0 && !s.Has(spec.field) {
			e.v[i].known = false
		}
		if spec.kind == kindNumber && (math.IsNaN(e.v[i].n) || math.IsInf(e.v[i].n, 0)) {
			e.v[i].known = false
		}
	}
}

// compiler turns an hclsyntax expression into a closure, collecting the
// variables it reads and every error with its position.
type compiler struct {
	diags hcl.Diagnostics
	reads uint64 // bit per varID
}

func (c *compiler) errf(rng hcl.Range, format string, args ...any) {
	r := rng
	c.diags = append(c.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(format, args...), Subject: &r})
}

func constant(v val) compiled { return func(*env) val { return v } }

func (c *compiler) compile(expr hcl.Expression) (compiled, kind) {
	switch x := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return c.literal(x.Val, x.SrcRange)
	case *hclsyntax.TemplateExpr:
		if !x.IsStringLiteral() {
			c.errf(x.SrcRange, "string templates are not supported in rule expressions")
			return constant(val{}), kindString
		}
		v, d := x.Value(nil)
		if d.HasErrors() {
			c.diags = append(c.diags, d...)
			return constant(val{}), kindString
		}
		return c.literal(v, x.SrcRange)
	case *hclsyntax.ParenthesesExpr:
		return c.compile(x.Expression)
	case *hclsyntax.ScopeTraversalExpr:
		if len(x.Traversal) != 1 {
			c.errf(x.SrcRange, "%s: attribute and index access is not supported; use a plain variable name", x.Traversal.RootName())
			return constant(val{}), kindNumber
		}
		name := x.Traversal.RootName()
		if name == "true" || name == "false" {
			b := name == "true"
			return constant(val{known: true, b: b}), kindBool
		}
		id, ok := lookupVar(name)
		if !ok {
			c.errf(x.SrcRange, "unknown variable %q; rule expressions can use: %s", name, strings.Join(VariableNames(), ", "))
			return constant(val{}), kindNumber
		}
		c.reads |= 1 << id
		return func(e *env) val { return e.v[id] }, vars[id].kind
	case *hclsyntax.UnaryOpExpr:
		inner, k := c.compile(x.Val)
		switch x.Op {
		case hclsyntax.OpLogicalNot:
			c.want(x.Val, k, kindBool, "operand of !")
			return func(e *env) val { v := inner(e); v.b = !v.b; return v }, kindBool
		case hclsyntax.OpNegate:
			c.want(x.Val, k, kindNumber, "operand of unary -")
			return func(e *env) val { v := inner(e); v.n = -v.n; return v }, kindNumber
		}
	case *hclsyntax.BinaryOpExpr:
		return c.binary(x)
	case *hclsyntax.ConditionalExpr:
		cond, ck := c.compile(x.Condition)
		c.want(x.Condition, ck, kindBool, "condition of ?:")
		a, ak := c.compile(x.TrueResult)
		b, bk := c.compile(x.FalseResult)
		if ak != bk {
			c.errf(x.SrcRange, "both results of ?: must have the same type, got %s and %s", ak, bk)
		}
		return func(e *env) val {
			v := cond(e)
			if !v.known {
				return val{}
			}
			if v.b {
				return a(e)
			}
			return b(e)
		}, ak
	case *hclsyntax.FunctionCallExpr:
		return c.call(x)
	}
	c.errf(expr.Range(), "unsupported expression; use numbers, durations like \"150ms\", variables, arithmetic, comparisons, &&, ||, !, ?: and min()/max()")
	return constant(val{}), kindNumber
}

func (c *compiler) literal(v cty.Value, rng hcl.Range) (compiled, kind) {
	switch {
	case v.IsNull():
		c.errf(rng, "null is not allowed here")
		return constant(val{}), kindNumber
	case v.Type() == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return constant(val{known: true, n: f}), kindNumber
	case v.Type() == cty.Bool:
		return constant(val{known: true, b: v.True()}), kindBool
	case v.Type() == cty.String:
		// A duration string is a number of milliseconds, so
		// `floor = "150ms"` and `floor = rtt_p99_ms * 6` mean the same
		// kind of thing. Any other string stays a string (role names).
		if d, err := time.ParseDuration(v.AsString()); err == nil {
			return constant(val{known: true, n: ms(d)}), kindNumber
		}
		return constant(val{known: true, s: v.AsString()}), kindString
	}
	c.errf(rng, "unsupported value of type %s", v.Type().FriendlyName())
	return constant(val{}), kindNumber
}

func (c *compiler) want(expr hcl.Expression, got, want kind, what string) {
	if got != want {
		c.errf(expr.Range(), "%s must be a %s, got a %s", what, want, got)
	}
}

func (c *compiler) binary(x *hclsyntax.BinaryOpExpr) (compiled, kind) {
	l, lk := c.compile(x.LHS)
	r, rk := c.compile(x.RHS)
	known2 := func(a, b val) bool { return a.known && b.known }
	switch x.Op {
	case hclsyntax.OpLogicalAnd:
		c.want(x.LHS, lk, kindBool, "operand of &&")
		c.want(x.RHS, rk, kindBool, "operand of &&")
		// false && unknown is false: a known false side decides.
		return func(e *env) val {
			a, b := l(e), r(e)
			if (a.known && !a.b) || (b.known && !b.b) {
				return val{known: true}
			}
			return val{known: known2(a, b), b: true}
		}, kindBool
	case hclsyntax.OpLogicalOr:
		c.want(x.LHS, lk, kindBool, "operand of ||")
		c.want(x.RHS, rk, kindBool, "operand of ||")
		return func(e *env) val {
			a, b := l(e), r(e)
			if (a.known && a.b) || (b.known && b.b) {
				return val{known: true, b: true}
			}
			return val{known: known2(a, b)}
		}, kindBool
	case hclsyntax.OpEqual, hclsyntax.OpNotEqual:
		if lk != rk {
			c.errf(x.SrcRange, "cannot compare a %s with a %s", lk, rk)
		}
		neq := x.Op == hclsyntax.OpNotEqual
		return func(e *env) val {
			a, b := l(e), r(e)
			eq := a.n == b.n && a.b == b.b && a.s == b.s
			return val{known: known2(a, b), b: eq != neq}
		}, kindBool
	}
	c.want(x.LHS, lk, kindNumber, "operand of "+opName(x.Op))
	c.want(x.RHS, rk, kindNumber, "operand of "+opName(x.Op))
	var f func(a, b float64) (float64, bool)
	isCmp := true
	switch x.Op {
	case hclsyntax.OpGreaterThan:
		f = func(a, b float64) (float64, bool) { return 0, a > b }
	case hclsyntax.OpGreaterThanOrEqual:
		f = func(a, b float64) (float64, bool) { return 0, a >= b }
	case hclsyntax.OpLessThan:
		f = func(a, b float64) (float64, bool) { return 0, a < b }
	case hclsyntax.OpLessThanOrEqual:
		f = func(a, b float64) (float64, bool) { return 0, a <= b }
	default:
		isCmp = false
		switch x.Op {
		case hclsyntax.OpAdd:
			f = func(a, b float64) (float64, bool) { return a + b, false }
		case hclsyntax.OpSubtract:
			f = func(a, b float64) (float64, bool) { return a - b, false }
		case hclsyntax.OpMultiply:
			f = func(a, b float64) (float64, bool) { return a * b, false }
		case hclsyntax.OpDivide:
			f = func(a, b float64) (float64, bool) { return a / b, false }
		case hclsyntax.OpModulo:
			f = func(a, b float64) (float64, bool) { return math.Mod(a, b), false }
		default:
			c.errf(x.SrcRange, "unsupported operator")
			return constant(val{}), kindNumber
		}
	}
	if isCmp {
		return func(e *env) val {
			a, b := l(e), r(e)
			_, res := f(a.n, b.n)
			return val{known: known2(a, b), b: res}
		}, kindBool
	}
	return func(e *env) val {
		a, b := l(e), r(e)
		n, _ := f(a.n, b.n)
		// Division by zero and the like are not measurements.
		k := known2(a, b) && !math.IsNaN(n) && !math.IsInf(n, 0)
		return val{known: k, n: n}
	}, kindNumber
}

func opName(op *hclsyntax.Operation) string {
	switch op {
	case hclsyntax.OpGreaterThan:
		return ">"
	case hclsyntax.OpGreaterThanOrEqual:
		return ">="
	case hclsyntax.OpLessThan:
		return "<"
	case hclsyntax.OpLessThanOrEqual:
		return "<="
	case hclsyntax.OpAdd:
		return "+"
	case hclsyntax.OpSubtract:
		return "-"
	case hclsyntax.OpMultiply:
		return "*"
	case hclsyntax.OpDivide:
		return "/"
	case hclsyntax.OpModulo:
		return "%"
	}
	return "operator"
}

func (c *compiler) call(x *hclsyntax.FunctionCallExpr) (compiled, kind) {
	if (x.Name != "min" && x.Name != "max") || len(x.Args) < 2 || x.ExpandFinal {
		c.errf(x.NameRange, "unknown function %q; min(a, b, …) and max(a, b, …) are available", x.Name)
		return constant(val{}), kindNumber
	}
	var args []compiled
	for _, a := range x.Args {
		f, k := c.compile(a)
		c.want(a, k, kindNumber, "argument of "+x.Name)
		args = append(args, f)
	}
	isMax := x.Name == "max"
	return func(e *env) val {
		out := args[0](e)
		for _, f := range args[1:] {
			v := f(e)
			out.known = out.known && v.known
			if (isMax && v.n > out.n) || (!isMax && v.n < out.n) {
				out.n = v.n
			}
		}
		return out
	}, kindNumber
}

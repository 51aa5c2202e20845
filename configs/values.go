package configs

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Decoder checks the constant attribute values of an HCL file — durations,
// numbers in a range, booleans — and collects a positioned diagnostic for
// every problem, so one run reports them all. Scenario, node and policy
// files share it, and with it the wording of their errors.
type Decoder struct {
	Diags hcl.Diagnostics
}

// Errf records an error at rng.
func (d *Decoder) Errf(rng hcl.Range, format string, args ...any) {
	r := rng
	d.Diags = append(d.Diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(format, args...), Subject: &r})
}

// Absent reports whether an optional attribute was left out: gohcl stands
// a null constant in for it.
func Absent(e hcl.Expression) bool {
	if e == nil {
		return true
	}
	if len(e.Variables()) > 0 {
		return false
	}
	v, diags := e.Value(nil)
	return !diags.HasErrors() && v.IsNull()
}

// Value evaluates a constant of type want; ok is false when the attribute
// is absent or wrong (the problem is recorded).
func (d *Decoder) Value(e hcl.Expression, name string, want cty.Type) (cty.Value, bool) {
	if Absent(e) {
		return cty.NilVal, false
	}
	if len(e.Variables()) > 0 {
		d.Errf(e.Range(), "%s must be a constant, not an expression over variables", name)
		return cty.NilVal, false
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		d.Diags = append(d.Diags, diags...)
		return cty.NilVal, false
	}
	if !v.Type().Equals(want) {
		d.Errf(e.Range(), "%s must be a %s, got %s", name, want.FriendlyName(), v.Type().FriendlyName())
		return cty.NilVal, false
	}
	return v, true
}

// Duration decodes a Go duration string ("40ms", "0.4ms", "10m"). It must
// not be negative, and must be above zero when positive is set.
func (d *Decoder) Duration(e hcl.Expression, name string, positive bool) (time.Duration, bool) {
	v, ok := d.Value(e, name, cty.String)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(v.AsString())
	switch {
	case err != nil:
		d.Errf(e.Range(), "%s: %q is not a duration like \"150ms\" or \"1.5s\"", name, v.AsString())
		return 0, false
	case dur < 0:
		d.Errf(e.Range(), "%s must not be negative, got %s", name, dur)
		return 0, false
	case dur == 0 && positive:
		d.Errf(e.Range(), "%s must be positive, got %s", name, dur)
		return 0, false
	}
	return dur, true
}

// Number decodes a number within [min, max].
func (d *Decoder) Number(e hcl.Expression, name string, min, max float64) (float64, bool) {
	v, ok := d.Value(e, name, cty.Number)
	if !ok {
		return 0, false
	}
	f, _ := v.AsBigFloat().Float64()
	if f < min || f > max {
		d.Errf(e.Range(), "%s must be within [%g, %g], got %g", name, min, max, f)
		return 0, false
	}
	return f, true
}

// Bool decodes a boolean.
func (d *Decoder) Bool(e hcl.Expression, name string) (bool, bool) {
	v, ok := d.Value(e, name, cty.Bool)
	if !ok {
		return false, false
	}
	return v.True(), true
}

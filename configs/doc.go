// Package configs embeds the shipped configuration: scenario suites
// (scenarios/<suite>/*.hcl) and policy presets (policies/*.hcl). The files
// are also meant to be read and copied by users as examples.
package configs

import "embed"

// Scenarios holds scenarios/<suite>/*.hcl.
//
//go:embed scenarios
var Scenarios embed.FS

// Policies holds policies/*.hcl; policies/default.hcl is the policy used
// when none is configured.
//
//go:embed policies
var Policies embed.FS

package agent

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/nsraft/nsraft/collector"
	nsmodel "github.com/nsraft/nsraft/model"
)

// TestPrometheusRulesFile checks configs/deploy/prometheus-rules.yaml the
// way promtool check rules would for what can go wrong here: it parses
// as a rules file with no unknown fields, every alert has a unique name,
// an expression, a valid `for` duration, a severity and a summary, each
// expression's brackets balance and its range selectors are valid
// durations, and every ns_agent_* series it reads is one the agent
// exports.
func TestPrometheusRulesFile(t *testing.T) {
	b, err := os.ReadFile("../configs/deploy/prometheus-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Record      string            `yaml:"record"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("prometheus-rules.yaml: %v", err)
	}
	a := New(Config{Node: "n1", Recommender: nsmodel.Static{T: time.Second}})
	s := collector.Sample{Node: "n1", At: time.Now(), Term: 2}
	s.Set(collector.FieldTerm)
	a.Finish(a.Decide(s, true), true, nil)
	fams, err := a.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
	}
	series := regexp.MustCompile(`ns_agent_[a-z0-9_]+`)
	ranges := regexp.MustCompile(`\[([^\]]*)\]`)
	names, alerts := map[string]bool{}, 0
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a group needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert + r.Record
			if (r.Alert == "") == (r.Record == "") {
				t.Errorf("%s: a rule is either an alert or a record", where)
			}
			if names[where] {
				t.Errorf("%s: duplicate rule", where)
			}
			names[where] = true
			if r.Alert != "" {
				alerts++
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
					t.Errorf("%s: an alert needs a severity label and a summary", where)
				}
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for: %v", where, err)
				}
			}
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expression", where)
			}
			depth := 0
			for _, c := range r.Expr {
				switch c {
				case '(', '[', '{':
					depth++
				case ')', ']', '}':
					depth--
				}
				if depth < 0 {
					break
				}
			}
			if depth != 0 {
				t.Errorf("%s: unbalanced brackets in %q", where, r.Expr)
			}
			for _, m := range ranges.FindAllStringSubmatch(r.Expr, -1) {
				if _, err := model.ParseDuration(m[1]); err != nil {
					t.Errorf("%s: range [%s]: %v", where, m[1], err)
				}
			}
			refs := series.FindAllString(r.Expr, -1)
			if len(refs) == 0 {
				t.Errorf("%s: reads no ns_agent_* series", where)
			}
			for _, m := range refs {
				if !have[m] {
					t.Errorf("%s: %s is not a series the agent exports", where, m)
				}
			}
		}
	}
	for _, want := range []string{"RaftLeaderChurn", "NsAgentNotSteering", "NsAgentAdviceChanging", "NsAgentHostDisconnected"} {
		found := false
		for n := range names {
			found = found || strings.HasSuffix(n, "/"+want)
		}
		if !found {
			t.Errorf("no %s alert", want)
		}
	}
}

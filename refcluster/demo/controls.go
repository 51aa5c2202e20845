package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/refcluster"
)

// controls carries out the dashboard's fault and strategy controls on
// the demo's cluster, mesh and agents.
type controls struct {
	cluster *refcluster.Cluster
	mesh    *refcluster.Mesh
	agents  *refcluster.Agents // nil when the demo runs without agents
}

func (c *controls) Nodes() []string    { return c.cluster.IDs() }
func (c *controls) Links() [][2]string { return c.mesh.Links() }

func (c *controls) Strategies() []string {
	if c.agents == nil {
		return nil
	}
	return model.Names() // each through the agent's policy
}

// links resolves "from->to", or every link for "".
func (c *controls) links(spec string) ([][2]string, error) {
	if spec == "" {
		return c.mesh.Links(), nil
	}
	from, to, ok := strings.Cut(spec, "->")
	for _, l := range c.mesh.Links() {
		if ok && l[0] == from && l[1] == to {
			return [][2]string{l}, nil
		}
	}
	return nil, fmt.Errorf("no link %q", spec)
}

func (c *controls) node(id string) error {
	for _, n := range c.cluster.IDs() {
		if n == id {
			return nil
		}
	}
	return fmt.Errorf("no node %q", id)
}

func (c *controls) Do(ctx context.Context, a agent.Action) error {
	switch a.Kind {
	case "latency", "clear":
		ls, err := c.links(a.Link)
		if err != nil {
			return err
		}
		if a.LatencyMS < 0 || a.JitterMS < 0 || a.LatencyMS > 10000 || a.JitterMS > 10000 {
			return fmt.Errorf("latency and jitter must be within 0..10000ms")
		}
		for _, l := range ls {
			f := c.mesh.Fault(l[0], l[1])
			f.Latency, f.Jitter = 0, 0
			if a.Kind == "latency" {
				f.Latency, f.Jitter = time.Duration(a.LatencyMS)*time.Millisecond, time.Duration(a.JitterMS)*time.Millisecond
			}
			if err := c.mesh.SetLink(l[0], l[1], f); err != nil {
				return err
			}
		}
		return nil
	case "stall":
		// A burst of loss on a TCP stream is a stall: nothing gets through
		// until retransmission succeeds. Black-hole the links, then heal.
		ls, err := c.links(a.Link)
		if err != nil {
			return err
		}
		if a.DurationMS <= 0 || a.DurationMS > 30000 {
			return fmt.Errorf("stall duration must be within 1..30000ms")
		}
		for _, l := range ls {
			f := c.mesh.Fault(l[0], l[1])
			f.Down = true
			if err := c.mesh.SetLink(l[0], l[1], f); err != nil {
				return err
			}
		}
		time.AfterFunc(time.Duration(a.DurationMS)*time.Millisecond, func() {
			for _, l := range ls {
				f := c.mesh.Fault(l[0], l[1])
				f.Down = false
				c.mesh.SetLink(l[0], l[1], f)
			}
		})
		return nil
	case "partition":
		if err := c.node(a.Node); err != nil {
			return err
		}
		return c.mesh.Partition([]string{a.Node})
	case "heal":
		return c.mesh.Heal()
	case "pause", "resume", "kill", "restart":
		if err := c.node(a.Node); err != nil {
			return err
		}
		switch a.Kind {
		case "pause":
			return c.cluster.Pause(a.Node)
		case "resume":
			return c.cluster.Resume(a.Node)
		case "kill":
			return c.cluster.Kill(a.Node)
		default:
			return c.cluster.Restart(ctx, a.Node)
		}
	case "strategy":
		if c.agents == nil {
			return fmt.Errorf("the demo runs without agents (-strategy none)")
		}
		if err := c.node(a.Node); err != nil {
			return err
		}
		if _, err := model.New(a.Strategy, model.Options{}); err != nil {
			return fmt.Errorf("unknown strategy %q", a.Strategy)
		}
		return c.agents.SetRecommender(a.Node, a.Strategy)
	}
	return fmt.Errorf("unknown control %q", a.Kind)
}

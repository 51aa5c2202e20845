package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/nsraft/nsraft/adapter/etcd/rawcluster"
	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

func main() {
	fixed := flag.Bool("fixed", false, "tick every node at a fixed 10ms (no driver, no agent)")
	spikes := flag.Int("spikes", 6, "delay spikes to inject")
	delay := flag.Duration("delay", 400*time.Millisecond, "how long the leader's messages are held back during a spike")
	verbose := flag.Bool("v", false, "print every decision")
	flag.Parse()

	c := rawcluster.New(rawcluster.Config{Nodes: 3, Drivers: !*fixed})
	defer c.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if !*fixed {
		level := hclog.Off
		if *verbose {
			level = hclog.Info
		}
		for _, n := range c.Nodes {
			rec, err := model.New("lstm", model.Options{})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			log := hclog.New(&hclog.LoggerOptions{Output: os.Stdout, Level: level, JSONFormat: true})
			go agent.New(agent.Config{Node: fmt.Sprint(n.ID), HostKind: policy.HostEtcdRaft, Recommender: rec, Log: log}).Run(ctx, n.Driver)
		}
	}
	for c.Leader() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("leader %d elected; 3s of calm\n", c.Leader())
	time.Sleep(3 * time.Second)
	e0 := c.Elections()
	for i := 1; i <= *spikes; i++ {
		l := c.Leader()
		c.SetDelay(l, *delay)
		time.Sleep(600 * time.Millisecond)
		c.SetDelay(l, 0)
		time.Sleep(1400 * time.Millisecond)
		status := ""
		if !*fixed {
			for _, n := range c.Nodes {
				status += fmt.Sprintf(" n%d=%v", n.ID, (15 * n.Driver.Period()).Round(time.Millisecond)) // ElectionTick 15
			}
			status = "; election timeouts" + status
		}
		fmt.Printf("spike %d: %v on leader %d's messages; elections so far %d%s\n", i, *delay, l, c.Elections()-e0, status)
	}
	fmt.Printf("%d elections under %d spikes (none was necessary: no leader failed)\n", c.Elections()-e0, *spikes)
}

package sim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nsraft/nsraft/model"
)

// TrainOptions is one training of the LSTM on simulated traces.
type TrainOptions struct {
	Out    string   // weights file to write
	Host   HostKind // host model every run plays ("": each scenario's)
	Seeds  int      // simulated runs per scenario, seeds 1…N
	Epochs int
	Seed   uint64           // initial weights, chunk order
	Now    func() time.Time // reads the wall clock for the progress lines; nil: time.Now
}

// TrainWeights records every node's samples of every scenario and seed
// with the simulator's ground truth (Traces over TrainTimeouts), fits the
// LSTM to the coming heartbeat gaps (model.Train) and writes the weights
// to o.Out, reporting its progress to w. The same options write the same
// file.
func TrainWeights(w io.Writer, scs []*Scenario, o TrainOptions) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	seqs := Traces(WithHost(scs, o.Host), o.Seeds, TrainTimeouts(), 2)
	steps, scored := 0, 0
	for _, s := range seqs {
		steps += len(s.X)
		for _, m := range s.Mask {
			if m {
				scored++
			}
		}
	}
	fmt.Fprintf(w, "traces: %d scenarios × %d seeds, %d node sequences, %d samples (%d with a target) in %s\n",
		len(scs), o.Seeds, len(seqs), steps, scored, now().Sub(start).Round(100*time.Millisecond))

	trainStart := now()
	net, err := model.Train(seqs, model.TrainConfig{Epochs: o.Epochs, Seed: o.Seed, Progress: func(ep, eps int, loss float64) {
		el := now().Sub(trainStart)
		eta := time.Duration(float64(el) / float64(ep) * float64(eps-ep))
		fmt.Fprintf(w, "epoch %d/%d  loss %.5f  elapsed %s  eta %s\n", ep, eps, loss, el.Round(time.Second), eta.Round(time.Second))
	}})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := model.SaveWeights(&buf, net); err != nil {
		return err
	}
	if err := os.WriteFile(o.Out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s: %d parameters, %d bytes, total %s\n", o.Out, net.NumParams(), buf.Len(), now().Sub(start).Round(time.Second))
	return nil
}

package model

import (
	"math"
	"math/rand/v2"
)

// The LSTM's shape. 4·H·(I+H+1) + K·(H+1) + Q·(K+1) = 4·56·67 + 16·57 + 3·17
// = 16,011 parameters: reference 000's "~17K" tiny model.
const (
	lstmHidden = 56
	headHidden = 16
	numQ       = 3
)

// Quantiles are the quantile levels the head predicts.
func Quantiles() [numQ]float64 { return [numQ]float64{0.5, 0.9, 0.99} }

// Net is the LSTM in float64, for training: one LSTM layer over the
// features, a tanh hidden layer and a linear output per quantile. Gates are
// stacked i, f, g, o in W and B.
type Net struct {
	I, H, K, Q int
	W          []float64 // 4H × (I+H), row-major
	B          []float64 // 4H
	U          []float64 // K × H
	Ub         []float64 // K
	V          []float64 // Q × K
	Vb         []float64 // Q
}

// NewNet returns a network with Xavier-uniform weights drawn from seed and
// the forget-gate bias at 1 (the usual start that keeps memory early on).
func NewNet(i, h, k, q int, seed uint64) *Net {
	r := rand.New(rand.NewPCG(seed, 0x157))
	n := &Net{I: i, H: h, K: k, Q: q,
		W: make([]float64, 4*h*(i+h)), B: make([]float64, 4*h),
		U: make([]float64, k*h), Ub: make([]float64, k),
		V: make([]float64, q*k), Vb: make([]float64, q)}
	fill := func(w []float64, fanIn, fanOut int) {
		lim := math.Sqrt(6 / float64(fanIn+fanOut))
		for j := range w {
			w[j] = (r.Float64()*2 - 1) * lim
		}
	}
	fill(n.W, i+h, h)
	fill(n.U, h, k)
	fill(n.V, k, q)
	for j := h; j < 2*h; j++ {
		n.B[j] = 1
	}
	return n
}

// Params lists the parameter slices in file order.
func (n *Net) Params() [][]float64 { return [][]float64{n.W, n.B, n.U, n.Ub, n.V, n.Vb} }

// NumParams counts the parameters.
func (n *Net) NumParams() int {
	t := 0
	for _, p := range n.Params() {
		t += len(p)
	}
	return t
}

// zeroLike returns a network of the same shape with all parameters zero,
// used to accumulate gradients.
func (n *Net) zeroLike() *Net {
	return &Net{I: n.I, H: n.H, K: n.K, Q: n.Q,
		W: make([]float64, len(n.W)), B: make([]float64, len(n.B)),
		U: make([]float64, len(n.U)), Ub: make([]float64, len(n.Ub)),
		V: make([]float64, len(n.V)), Vb: make([]float64, len(n.Vb))}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// stepCache keeps what backpropagation needs from one forward step.
type stepCache struct {
	xh               []float64 // [x; h_prev]
	i, f, g, o, c, h []float64
	cPrev            []float64
	a, y             []float64
}

// forward runs the network over xs from a zero state.
func (n *Net) forward(xs [][]float64) []stepCache {
	H := n.H
	caches := make([]stepCache, len(xs))
	h := make([]float64, H)
	c := make([]float64, H)
	for t, x := range xs {
		sc := stepCache{xh: make([]float64, n.I+H), i: make([]float64, H), f: make([]float64, H), g: make([]float64, H),
			o: make([]float64, H), c: make([]float64, H), h: make([]float64, H), cPrev: c, a: make([]float64, n.K), y: make([]float64, n.Q)}
		copy(sc.xh, x)
		copy(sc.xh[n.I:], h)
		cols := n.I + H
		for j := 0; j < 4*H; j++ {
			z := n.B[j]
			row := n.W[j*cols : (j+1)*cols]
			for k, v := range sc.xh {
				z += row[k] * v
			}
			switch j / H {
			case 0:
				sc.i[j%H] = sigmoid(z)
			case 1:
				sc.f[j%H] = sigmoid(z)
			case 2:
				sc.g[j%H] = math.Tanh(z)
			default:
				sc.o[j%H] = sigmoid(z)
			}
		}
		for j := 0; j < H; j++ {
			sc.c[j] = sc.f[j]*c[j] + sc.i[j]*sc.g[j]
			sc.h[j] = sc.o[j] * math.Tanh(sc.c[j])
		}
		n.head(sc.h, sc.a, sc.y)
		caches[t] = sc
		h, c = sc.h, sc.c
	}
	return caches
}

func (n *Net) head(h, a, y []float64) {
	for k := 0; k < n.K; k++ {
		z := n.Ub[k]
		for j, v := range h {
			z += n.U[k*n.H+j] * v
		}
		a[k] = math.Tanh(z)
	}
	for q := 0; q < n.Q; q++ {
		z := n.Vb[q]
		for k, v := range a {
			z += n.V[q*n.K+k] * v
		}
		y[q] = z
	}
}

// pinball is the quantile loss of predicting yhat for level tau when the
// truth is y, and its derivative with respect to yhat.
func pinball(tau, y, yhat float64) (loss, d float64) {
	if e := y - yhat; e >= 0 {
		return tau * e, -tau
	} else {
		return (tau - 1) * e, 1 - tau
	}
}

// lossGrad runs forward and backward through time over one sequence and
// adds the gradient of the summed pinball loss (over steps with mask set)
// to g. It returns the loss and the number of scored steps.
func (n *Net) lossGrad(xs [][]float64, ys []float64, mask []bool, g *Net) (float64, int) {
	caches := n.forward(xs)
	H, cols := n.H, n.I+n.H
	taus := Quantiles()
	var loss float64
	scored := 0
	dhNext := make([]float64, H)
	dcNext := make([]float64, H)
	dz := make([]float64, 4*H)
	da := make([]float64, n.K)
	for t := len(xs) - 1; t >= 0; t-- {
		sc := &caches[t]
		dh := make([]float64, H)
		copy(dh, dhNext)
		if mask[t] {
			scored++
			for k := range da {
				da[k] = 0
			}
			for q := 0; q < n.Q; q++ {
				l, d := pinball(taus[q], ys[t], sc.y[q])
				loss += l
				g.Vb[q] += d
				for k := 0; k < n.K; k++ {
					g.V[q*n.K+k] += d * sc.a[k]
					da[k] += d * n.V[q*n.K+k]
				}
			}
			for k := 0; k < n.K; k++ {
				dp := da[k] * (1 - sc.a[k]*sc.a[k])
				g.Ub[k] += dp
				for j := 0; j < H; j++ {
					g.U[k*H+j] += dp * sc.h[j]
					dh[j] += dp * n.U[k*H+j]
				}
			}
		}
		for j := 0; j < H; j++ {
			tc := math.Tanh(sc.c[j])
			do := dh[j] * tc
			dc := dh[j]*sc.o[j]*(1-tc*tc) + dcNext[j]
			di := dc * sc.g[j]
			dg := dc * sc.i[j]
			df := dc * sc.cPrev[j]
			dcNext[j] = dc * sc.f[j]
			dz[j] = di * sc.i[j] * (1 - sc.i[j])
			dz[H+j] = df * sc.f[j] * (1 - sc.f[j])
			dz[2*H+j] = dg * (1 - sc.g[j]*sc.g[j])
			dz[3*H+j] = do * sc.o[j] * (1 - sc.o[j])
		}
		for j := range dhNext {
			dhNext[j] = 0
		}
		for r := 0; r < 4*H; r++ {
			d := dz[r]
			if d == 0 {
				continue
			}
			g.B[r] += d
			row := n.W[r*cols : (r+1)*cols]
			grow := g.W[r*cols : (r+1)*cols]
			for k, v := range sc.xh {
				grow[k] += d * v
			}
			for k := 0; k < H; k++ {
				dhNext[k] += d * row[n.I+k]
			}
		}
	}
	return loss, scored
}

// Adam is the Adam optimizer (Kingma & Ba) over a Net's parameters.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	m, v                  *Net
	t                     int
}

// NewAdam returns Adam with the usual constants for a network's shape.
func NewAdam(n *Net, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, m: n.zeroLike(), v: n.zeroLike()}
}

// Step applies gradient g (already averaged) to n, after clipping its
// global L2 norm to clip (0: no clipping). It returns the norm before
// clipping.
func (a *Adam) Step(n, g *Net, clip float64) float64 {
	var ss float64
	for _, p := range g.Params() {
		for _, v := range p {
			ss += v * v
		}
	}
	norm := math.Sqrt(ss)
	scale := 1.0
	if clip > 0 && norm > clip {
		scale = clip / norm
	}
	a.t++
	b1c := 1 - math.Pow(a.Beta1, float64(a.t))
	b2c := 1 - math.Pow(a.Beta2, float64(a.t))
	ps, gs, ms, vs := n.Params(), g.Params(), a.m.Params(), a.v.Params()
	for i := range ps {
		for j := range ps[i] {
			gr := gs[i][j] * scale
			ms[i][j] = a.Beta1*ms[i][j] + (1-a.Beta1)*gr
			vs[i][j] = a.Beta2*vs[i][j] + (1-a.Beta2)*gr*gr
			ps[i][j] -= a.LR * (ms[i][j] / b1c) / (math.Sqrt(vs[i][j]/b2c) + a.Eps)
		}
	}
	return norm
}

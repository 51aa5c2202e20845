// Package model owns the Recommender interface and its implementations: the
// baselines (static, random, jacobson, phi), the LinUCB bandit (BALLAST) and
// the product's LSTM with its training, weights file and embedded default.
//
// A recommender is a pure step function of the samples it observes: no
// clocks, no I/O, randomness only from the seed it was built with. model
// imports collector and nothing else from this module.
package model

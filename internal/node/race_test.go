//go:build race

package node_test

// raceEnabled: the race detector slows actors down several times over.
const raceEnabled = true

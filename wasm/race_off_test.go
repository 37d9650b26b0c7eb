//go:build !race

package wasm

// raceEnabled: the race detector slows Go code ~10x; tests scale down.
const raceEnabled = false

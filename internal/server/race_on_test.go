//go:build race

package server

// raceEnabled says whether the test binary was built with -race.
const raceEnabled = true

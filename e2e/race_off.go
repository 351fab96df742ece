//go:build !race

package e2e

// raceEnabled says whether this test binary was built with -race: the server
// is then built with it too (see Binary).
const raceEnabled = false

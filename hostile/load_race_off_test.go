//go:build !race

package hostile_test

// raceBuild reports a binary built with -race.
const raceBuild = false

package hostile_test

import (
	"testing"
	"time"
)

// TestHarnessLegitimateClient checks the harness itself: a CURVE client is
// served, and nothing is left running.
func TestHarnessLegitimateClient(t *testing.T) {
	leakCheck(t)
	scfg, ccfg, _, _ := curvePair(t)
	s := startServer(t, scfg)
	mustLegit(t, s.endpoint, ccfg, 5*time.Second)
}

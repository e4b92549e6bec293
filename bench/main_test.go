package bench

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestMain prints, when benchmarks run, configuration lines in the Go
// benchmark format ("key: value") before the results, so that a saved run
// says what it ran on and benchstat carries it along: CPUs, Go, libzmq and
// binding versions; and, as a plain line, the load average when the run
// began (a shared machine's load explains wide intervals).
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		fmt.Print(configLines())
	}
	code := m.Run()
	if nativeDir != "" {
		os.RemoveAll(nativeDir)
	}
	os.Exit(code)
}

func configLines() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nproc: %d\n", runtime.NumCPU())
	fmt.Fprintf(&b, "go: %s\n", runtime.Version())
	fmt.Fprintf(&b, "libzmq: %s\n", libzmqVersion())
	// A test binary records no dependency versions, so read them from
	// go.mod (go test runs in the package directory).
	if mod, err := os.ReadFile("go.mod"); err == nil {
		for _, line := range strings.Split(string(mod), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "require" {
				f = f[1:]
			}
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "github.com/pebbe/zmq4":
				fmt.Fprintf(&b, "pebbe-zmq4: %s\n", f[1])
			case "github.com/go-zeromq/zmq4":
				fmt.Fprintf(&b, "go-zeromq-zmq4: %s\n", f[1])
			}
		}
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(la)); len(f) >= 3 {
			// Not a "key: value" line, which benchstat would take as
			// configuration and split its tables by; it skips this one.
			fmt.Fprintf(&b, "load average at start: %s %s %s\n", f[0], f[1], f[2])
		}
	}
	return b.String()
}

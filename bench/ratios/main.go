// Command ratios prints, from the output of the bench benchmarks, the
// median time per op of each implementation divided by libzmq's in the same
// row: above 1 is slower than libzmq, below 1 faster. It is the short form
// of benchstat -col /impl, without confidence intervals; read those there.
//
// Usage:
//
//	go run ./ratios results/FILE.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

const base = "libzmq"

// procs is the -GOMAXPROCS suffix go test adds to benchmark names.
var procs = regexp.MustCompile(`-\d+$`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ratios FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()

	var rows, impls []string
	samples := map[string]map[string][]float64{} // row → impl → ns/op
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || fields[3] != "ns/op" {
			continue
		}
		ns, err := strconv.ParseFloat(fields[2], 64)
		if err != nil {
			continue
		}
		var row []string
		impl := ""
		for _, part := range strings.Split(procs.ReplaceAllString(fields[0], ""), "/") {
			if v, ok := strings.CutPrefix(part, "impl="); ok {
				impl = v
			} else {
				row = append(row, part)
			}
		}
		if impl == "" {
			continue
		}
		name := strings.TrimPrefix(strings.Join(row, "/"), "Benchmark")
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
			rows = append(rows, name)
		}
		if !slices.Contains(impls, impl) {
			impls = append(impls, impl)
		}
		samples[name][impl] = append(samples[name][impl], ns)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	impls = slices.DeleteFunc(impls, func(s string) bool { return s == base })

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "time/op ÷ libzmq's (median)\t%s\t", base)
	for _, im := range impls {
		fmt.Fprintf(w, "%s\t", im)
	}
	fmt.Fprintln(w)
	for _, name := range rows {
		b := median(samples[name][base])
		fmt.Fprintf(w, "%s\t%s\t", name, duration(b))
		for _, im := range impls {
			v := median(samples[name][im])
			if v == 0 || b == 0 {
				fmt.Fprint(w, "\t")
				continue
			}
			fmt.Fprintf(w, "%.2f\t", v/b)
		}
		fmt.Fprintln(w)
	}
	w.Flush()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func duration(ns float64) string {
	switch {
	case ns == 0:
		return "-"
	case ns >= 1e6:
		return fmt.Sprintf("%.3gms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3gµs", ns/1e3)
	}
	return fmt.Sprintf("%.3gns", ns)
}

// Command nativeratios reads the RESULT lines that run-native.sh collected
// and prints, for each figure, the ratio zmtpsec / other implementation
// paired by repetition (zmtpsec's figure of repetition i over the other's
// of repetition i), with the median, min and max over the repetitions, as
// a Markdown table.
//
//	go run ./nativeratios results/DATE-native.txt
//
// run-native.sh writes one line per measurement, the figure and the
// repetition before the tool's own RESULT fields:
//
//	RESULT fig=thr_null_16 rep=1 role=local_thr impl=libzmq mech=null size=16 count=5000000 msgs_per_s=4413100 ...
//
// and a FAIL line (fig=, rep=, impl=) for a run that failed; a repetition
// missing either side of a pair is left out of that row. The figure of a
// measurement is the measuring side's: msgs_per_s of local_thr (higher is
// better), p50_us of remote_lat (lower is better), conns_per_s of conn_cli
// (higher is better), msgs_per_s of box_thr (the CURVE crypto alone, seals
// and opens per second: boxperf against libsodium); other lines are ignored.
package main

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: nativeratios FILE (the raw output of run-native.sh)")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "nativeratios:", err)
		os.Exit(1)
	}
	defer f.Close()
	if err := report(f, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nativeratios:", err)
		os.Exit(1)
	}
}

// metrics maps the measuring role to its figure and whether higher is
// better.
var metrics = map[string]struct {
	key    string
	higher bool
}{
	"local_thr":  {"msgs_per_s", true},
	"remote_lat": {"p50_us", false},
	"conn_cli":   {"conns_per_s", true},
	"box_thr":    {"msgs_per_s", true},
}

// figure is one figure's measurements: value[impl][rep].
type figure struct {
	name, role, mech string
	size, clients    int
	impls            []string // in order of appearance
	value            map[string]map[int]float64
}

func report(r io.Reader, w io.Writer) error {
	var figs []*figure
	byName := map[string]*figure{}
	reps := map[int]bool{}
	layer := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "RESULT" {
			continue
		}
		kv := map[string]string{}
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = v
			}
		}
		m, ok := metrics[kv["role"]]
		if !ok || kv["fig"] == "" {
			continue
		}
		rep, err1 := strconv.Atoi(kv["rep"])
		v, err2 := strconv.ParseFloat(kv[m.key], 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("malformed line: %s", sc.Text())
		}
		fig := byName[kv["fig"]]
		if fig == nil {
			size, _ := strconv.Atoi(kv["size"])
			clients, _ := strconv.Atoi(kv["clients"])
			fig = &figure{name: kv["fig"], role: kv["role"], mech: kv["mech"], size: size, clients: clients, value: map[string]map[int]float64{}}
			byName[fig.name] = fig
			figs = append(figs, fig)
		}
		impl := kv["impl"]
		if fig.value[impl] == nil {
			fig.value[impl] = map[int]float64{}
			fig.impls = append(fig.impls, impl)
		}
		fig.value[impl][rep] = v
		reps[rep] = true
		if impl == "zmtpsec" && kv["layer"] != "" {
			layer = kv["layer"]
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "zmtpsec (layer=%s) / other implementation, each ratio of one repetition's pair; repetitions: %d\n\n", layer, len(reps))
	fmt.Fprintln(w, "| figure | better | zmtpsec / | median | min | max | by repetition | zmtpsec (median) | other (median) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, fig := range figs {
		ours := fig.value["zmtpsec"]
		if ours == nil {
			continue
		}
		better := "higher"
		if !metrics[fig.role].higher {
			better = "lower"
		}
		for _, other := range fig.impls {
			if other == "zmtpsec" {
				continue
			}
			theirs := fig.value[other]
			var ratios, ourVals, theirVals []float64
			var byRep []string
			for _, rep := range slices.Sorted(maps.Keys(reps)) {
				a, okA := ours[rep]
				b, okB := theirs[rep]
				if !okA || !okB || b == 0 {
					byRep = append(byRep, "-")
					continue
				}
				ratios = append(ratios, a/b)
				ourVals = append(ourVals, a)
				theirVals = append(theirVals, b)
				byRep = append(byRep, sig3(a/b))
			}
			if len(ratios) == 0 {
				fmt.Fprintf(w, "| %s | %s | %s | - | - | - | %s | | |\n", fig.label(), better, other, strings.Join(byRep, " "))
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				fig.label(), better, other, sig3(median(ratios)), sig3(slices.Min(ratios)), sig3(slices.Max(ratios)),
				strings.Join(byRep, " "), fig.unit(median(ourVals)), fig.unit(median(theirVals)))
		}
	}
	return nil
}

// median of a non-empty slice (the mean of the middle two for an even
// length).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (f *figure) label() string {
	mech := strings.ToUpper(f.mech)
	switch f.role {
	case "local_thr":
		return fmt.Sprintf("throughput %s %s", mech, sizeText(f.size))
	case "remote_lat":
		return fmt.Sprintf("round trip p50 %s %s", mech, sizeText(f.size))
	case "box_thr":
		return fmt.Sprintf("%s crypto alone (seal+open) %s", mech, sizeText(f.size))
	default:
		s := "s"
		if f.clients == 1 {
			s = ""
		}
		return fmt.Sprintf("connections/s %s, %d client%s", mech, f.clients, s)
	}
}

func sizeText(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// unit formats a figure's value with its unit.
func (f *figure) unit(v float64) string {
	switch f.role {
	case "local_thr", "box_thr":
		switch {
		case v >= 1e6:
			return sig3(v/1e6) + " M msgs/s"
		case v >= 1e3:
			return sig3(v/1e3) + " k msgs/s"
		}
		return sig3(v) + " msgs/s"
	case "remote_lat":
		return sig3(v) + " us"
	default:
		return sig3(v) + " conn/s"
	}
}

// sig3 formats v with three significant digits, or as an integer from 100
// on (never with an exponent).
func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%#.3g", v)
}

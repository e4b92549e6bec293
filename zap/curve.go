package zap

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/zmtpsec/zmtpsec/cert"
	"github.com/zmtpsec/zmtpsec/zmtp"
)

// CurveAllowAny, given as the location to [Authenticator.ConfigureCurve],
// lets any client key authenticate in that domain. It is pyzmq's
// zmq.auth.CURVE_ALLOW_ANY and CZMQ's "*".
const CurveAllowAny = "*"

// errStoreIncomplete is what a CURVE lookup reports when the key was not
// found and the certificate directory could not be read in full.
var errStoreIncomplete = errors.New("zap: certificate directory could not be read in full")

// A curveDomain is the CURVE configuration of one domain: any key, or the
// keys of a certificate directory.
type curveDomain struct {
	domain   string
	allowAny bool
	store    *cert.Store // nil if allowAny

	poller
	// refreshErr is the error of the last refresh, or nil.
	refreshErr atomic.Pointer[error]
	// The fields below are guarded by poller.reloadMu.
	// failure is the last refresh error's text, reported once until it
	// changes.
	failure string
	// nextFull is when the next full scan (cert.Store.Refresh) is due, in
	// Unix nanoseconds; in between, the refresher lists the directory
	// (cert.Store.RefreshNames) every interval.
	nextFull int64
	// namesCost is how long the last RefreshNames took.
	namesCost time.Duration
}

// lookup looks key up in the store's index; it does no I/O. A key that is
// not found while the directory could not be read in full gives an error
// wrapping the refresh error, since the key may be in a file that failed:
// the request then gets 500 rather than 400.
func (c *curveDomain) lookup(key cert.PublicKey) (*cert.Certificate, bool, error) {
	crt, ok := c.store.Lookup(key)
	if ok {
		return crt, true, nil
	}
	if rerr := c.refreshErr.Load(); rerr != nil {
		return nil, false, errors.Join(errStoreIncomplete, *rerr)
	}
	return nil, false, nil
}

// reload scans the directory in full now (cert.Store.Refresh), and logs a
// refresh error when it differs from the last one. It returns the refresh
// error.
func (c *curveDomain) reload(log *slog.Logger) error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	return c.refreshLocked(true, log)
}

// tick is the refresher's reload. A full scan stats every file, so it runs
// every interval but no sooner than scanCostFactor times its last
// duration; in between, a listing of the directory (a tenth of the cost)
// runs every interval, under the same bound, so that certificates added
// and removed are seen within about an interval even in a directory so
// large that full scans are spaced out.
func (c *curveDomain) tick(log *slog.Logger) {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.refreshLocked(time.Now().UnixNano() >= c.nextFull, log)
}

// refreshLocked runs a full or names-only refresh and schedules the next
// ones. Called with reloadMu held.
func (c *curveDomain) refreshLocked(full bool, log *slog.Logger) error {
	interval := time.Duration(c.interval.Load())
	start := time.Now()
	var err error
	if full {
		_, err = c.store.Refresh()
	} else {
		_, err = c.store.RefreshNames()
	}
	end := time.Now()
	cost := end.Sub(start)
	if full {
		c.nextFull = end.Add(max(interval, scanCostFactor*cost)).UnixNano()
	} else {
		c.namesCost = cost
	}
	next := end.Add(max(interval, scanCostFactor*c.namesCost)).UnixNano()
	c.next.Store(min(next, c.nextFull))

	if err != nil {
		c.refreshErr.Store(&err)
	} else {
		c.refreshErr.Store(nil)
	}
	c.noteRefreshLocked(err, log)
	return err
}

// noteRefreshLocked logs a refresh error when it differs from the last
// one. Called with reloadMu held.
func (c *curveDomain) noteRefreshLocked(err error, log *slog.Logger) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	changed := msg != c.failure
	c.failure = msg
	if !changed || log == nil {
		return
	}
	if err != nil {
		log.Error("zap: certificate directory read with errors; the files concerned are left out",
			"domain", c.domain, "dir", c.store.Dir(), "err", err)
	} else {
		log.Info("zap: certificate directory read without errors again", "domain", c.domain, "dir", c.store.Dir())
	}
}

// certMetadata returns the metadata of crt as ZAP reply metadata, in file
// order. Entries whose names are not valid ZMTP property names (ZPL allows
// "$", "@", "&" and "/", ZMTP does not) are left out and logged.
func certMetadata(crt *cert.Certificate, log *slog.Logger) zmtp.Metadata {
	if len(crt.Metadata) == 0 {
		return nil
	}
	md := make(zmtp.Metadata, 0, len(crt.Metadata))
	for _, e := range crt.Metadata {
		if !zmtp.ValidPropertyName(e.Name) {
			if log != nil {
				log.Warn("zap: certificate metadata name is not a ZMTP property name; left out",
					"path", crt.Path, "name", e.Name)
			}
			continue
		}
		md = append(md, zmtp.Property{Name: e.Name, Value: []byte(e.Value)})
	}
	return md
}

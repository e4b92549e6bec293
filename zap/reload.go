package zap

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReloadInterval is how often an [Authenticator] looks at its
// password files and certificate directories for changes, unless
// [Authenticator.SetReloadInterval] says otherwise.
const DefaultReloadInterval = time.Second

// scanCostFactor bounds the CPU a source's reloads take: the next reload of
// a source starts no sooner than this many times the last reload's
// duration after its end, so reloading a huge directory takes at most
// about a tenth of a core.
const scanCostFactor = 10

// ErrClosed is what an [Authenticator] gives after [Authenticator.Close]:
// ConfigurePlainFile and ConfigureCurve with a directory return it, and
// requests for the domains that read files get 500 with it as the logged
// cause.
var ErrClosed = errors.New("zap: authenticator closed")

// A poller schedules the reloads of one file source.
type poller struct {
	reloadMu sync.Mutex   // serialises reloads; requests never take it
	next     atomic.Int64 // when the next reload is due, in Unix nanoseconds
	interval atomic.Int64 // the reload interval in force, in nanoseconds
}

// run calls reload with reloadMu held, and schedules the next reload no
// sooner than the interval, nor than scanCostFactor times the time reload
// took, after it ends.
func (p *poller) run(reload func()) {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	start := time.Now()
	reload()
	end := time.Now()
	wait := max(time.Duration(p.interval.Load()), scanCostFactor*end.Sub(start))
	p.next.Store(end.Add(wait).UnixNano())
}

// setInterval sets the reload interval, and reschedules the next reload if
// it is due later than one new interval from now.
func (p *poller) setInterval(d time.Duration) {
	p.interval.Store(int64(d))
	if limit := time.Now().Add(d).UnixNano(); p.next.Load() > limit {
		p.next.Store(limit)
	}
}

// A fileSource is a password file or certificate directory that the
// refresher reloads.
type fileSource interface {
	reload(log *slog.Logger) error // now, in full
	tick(log *slog.Logger)         // when nextReload is due
	nextReload() int64
	setInterval(time.Duration)
}

func (p *poller) nextReload() int64 { return p.next.Load() }

// refresher is the goroutine that reloads an Authenticator's file sources.
type refresher struct {
	wake chan struct{} // buffered: a configuration change
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the goroutine ends
}

// wakeLocked makes the refresher look at the configuration again. Called
// with a.mu held.
func (a *Authenticator) wakeLocked() {
	if a.refresher == nil {
		return
	}
	select {
	case a.refresher.wake <- struct{}{}:
	default:
	}
}

// startRefresherLocked starts the refresher if it is not running. Called
// with a.mu held, and only while a is not closed.
func (a *Authenticator) startRefresherLocked() {
	if a.refresher != nil {
		return
	}
	r := &refresher{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	a.refresher = r
	go a.refreshLoop(r)
}

// refreshLoop reloads each file source when it is due, until Close.
func (a *Authenticator) refreshLoop(r *refresher) {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		sources, log := a.fileSources()
		wait := time.Hour // until a configuration change wakes us
		for _, s := range sources {
			select {
			case <-r.stop:
				return
			default:
			}
			if time.Now().UnixNano() >= s.nextReload() {
				s.tick(log)
			}
			wait = min(wait, time.Duration(s.nextReload()-time.Now().UnixNano()))
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// fileSources returns the file sources now configured, and the logger.
func (a *Authenticator) fileSources() ([]fileSource, *slog.Logger) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var sources []fileSource
	for _, s := range a.plain {
		if s.path != "" {
			sources = append(sources, s)
		}
	}
	for _, c := range a.curve {
		if c.store != nil {
			sources = append(sources, c)
		}
	}
	return sources, a.logger
}

// interval returns the reload interval. Called with a.mu held.
func (a *Authenticator) intervalLocked() time.Duration {
	if a.reloadInterval > 0 {
		return a.reloadInterval
	}
	return DefaultReloadInterval
}

// SetReloadInterval sets how often password files and certificate
// directories are looked at for changes; d <= 0 restores the default,
// [DefaultReloadInterval] (1 s). It applies at once to the files already
// configured.
//
// Requests never read files: they are decided against what the last
// reload found, so a change to a file (a certificate added, changed or
// removed, a password changed, a file made unreadable) is seen within
// about one interval. A reload looks at the identity, size and times of
// each file and reads only the files that changed (see [cert.Store]). So
// that a huge directory cannot take a core, each kind of scan of a source
// waits at least ten times as long as it last took: a full scan stats
// every file and sees every change, and between full scans a listing of
// the directory, about a tenth of the cost, runs every interval and sees
// certificates added and removed. With 100,000 certificates (a full scan
// takes about 0.5 s, a listing 35 ms, on a small VM) a removed certificate
// is refused within about a second and a file rewritten in place is seen
// within about five. [Authenticator.Reload] scans in full at once.
func (a *Authenticator) SetReloadInterval(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reloadInterval = d
	d = a.intervalLocked()
	for _, s := range a.plain {
		if s.path != "" {
			s.setInterval(d)
		}
	}
	for _, c := range a.curve {
		if c.store != nil {
			c.setInterval(d)
		}
	}
	a.wakeLocked()
}

// Reload looks at every password file and certificate directory now, as
// the periodic reload does, and returns once they are up to date: requests
// that arrive after it returns see the files as they were when it ran. It
// is for tests, and for callers that know they just changed a file. The
// error joins those of the files that cannot be read in full (they are
// also logged, as by the periodic reload); the Authenticator serves what
// it could read, failing closed as described on each Configure method.
func (a *Authenticator) Reload() error {
	sources, log := a.fileSources()
	var errs []error
	for _, s := range sources {
		errs = append(errs, s.reload(log))
	}
	return errors.Join(errs...)
}

// Close stops the goroutine that reloads password files and certificate
// directories, and waits for it to end. It always returns nil, and only
// the first call does anything.
//
// An Authenticator with a password file or a certificate directory
// configured runs that goroutine, and must be closed when it is no longer
// needed. One with neither (including the zero value, and the result of
// [NewAuthenticator] until then) runs no goroutine, and need not be
// closed.
//
// After Close, the Authenticator goes on answering requests, but those
// that would need a file (PLAIN for a domain with a password file, CURVE
// for a domain with a certificate directory) get 500 instead of being
// decided on files that are no longer followed, and ConfigurePlainFile
// and ConfigureCurve with a directory return [ErrClosed].
func (a *Authenticator) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	r := a.refresher
	a.mu.Unlock()
	if r != nil {
		close(r.stop)
		<-r.done
	}
	return nil
}

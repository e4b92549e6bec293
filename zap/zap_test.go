package zap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zmtpsec/zmtpsec/zmtp"
)

func TestStatusCode(t *testing.T) {
	for _, tt := range []struct {
		code  StatusCode
		valid bool
		text  string
	}{
		{StatusOK, true, "200"},
		{StatusTemporaryFailure, true, "300"},
		{StatusAuthenticationError, true, "400"},
		{StatusInternalError, true, "500"},
		{0, false, "0"},
		{201, false, "201"},
		{600, false, "600"},
		{-200, false, "-200"},
	} {
		if got := tt.code.Valid(); got != tt.valid {
			t.Errorf("%d.Valid() = %v", tt.code, got)
		}
		if got := tt.code.String(); got != tt.text {
			t.Errorf("%d.String() = %q", tt.code, got)
		}
	}
}

func TestAsk(t *testing.T) {
	errHandler := errors.New("handler error")
	req := request("NULL", "", "::1")
	good := &Reply{Version: Version, RequestID: []byte("1"), StatusCode: StatusOK, UserID: "u"}
	tests := []struct {
		name       string
		h          Handler
		wantStatus StatusCode
		wantErr    string // "" for no error
		wantIs     error
	}{
		{"ok", HandlerFunc(func(context.Context, *Request) (*Reply, error) { return good, nil }), 200, "", nil},
		{"empty version ok", HandlerFunc(func(context.Context, *Request) (*Reply, error) {
			return &Reply{StatusCode: StatusAuthenticationError}, nil
		}), 400, "", nil},
		{"300 passes", HandlerFunc(func(context.Context, *Request) (*Reply, error) {
			return &Reply{StatusCode: StatusTemporaryFailure}, nil
		}), 300, "", nil},
		{"error", HandlerFunc(func(context.Context, *Request) (*Reply, error) { return good, errHandler }),
			500, "zap: handler failed: handler error", errHandler},
		{"panic", HandlerFunc(func(context.Context, *Request) (*Reply, error) { panic("kaboom") }),
			500, "zap: handler panicked: kaboom", nil},
		{"nil handler func", HandlerFunc(nil), 500, "handler panicked", nil},
		{"nil reply", HandlerFunc(func(context.Context, *Request) (*Reply, error) { return nil, nil }),
			500, "zap: handler returned no reply", nil},
		{"bad status", HandlerFunc(func(context.Context, *Request) (*Reply, error) {
			return &Reply{StatusCode: 201}, nil
		}), 500, "zap: reply status code 201", nil},
		{"zero status", HandlerFunc(func(context.Context, *Request) (*Reply, error) { return &Reply{}, nil }),
			500, "zap: reply status code 0", nil},
		{"bad version", HandlerFunc(func(context.Context, *Request) (*Reply, error) {
			return &Reply{Version: "2.0", StatusCode: StatusOK}, nil
		}), 500, `zap: reply version "2.0"`, nil},
		{"bad metadata", HandlerFunc(func(context.Context, *Request) (*Reply, error) {
			return &Reply{StatusCode: StatusOK, Metadata: zmtp.Metadata{{Name: "bad name"}}}, nil
		}), 500, "zap: reply metadata", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Ask(context.Background(), tt.h, req)
			if rep == nil {
				t.Fatal("nil reply")
			}
			if rep.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", rep.StatusCode, tt.wantStatus)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("error %v", err)
				}
				return
			}
			var ze *Error
			if !errors.As(err, &ze) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want a *zap.Error containing %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if rep.Version != Version || string(rep.RequestID) != "1" || rep.UserID != "" || rep.Metadata != nil {
				t.Errorf("500 reply %+v", rep)
			}
			checkReply(t, req, rep)
		})
	}
}

func TestAskPassesContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	var seen any
	Ask(ctx, HandlerFunc(func(ctx context.Context, _ *Request) (*Reply, error) {
		seen = ctx.Value(key{})
		return &Reply{StatusCode: StatusOK}, nil
	}), request("NULL", "", ""))
	if seen != "v" {
		t.Errorf("handler saw context value %v", seen)
	}
}

func TestErrorMessages(t *testing.T) {
	cause := errors.New("cause")
	if got := (&Error{Reason: "r"}).Error(); got != "zap: r" {
		t.Errorf("Error() = %q", got)
	}
	e := &Error{Reason: "r", Err: cause}
	if got := e.Error(); got != "zap: r: cause" || e.Unwrap() != cause {
		t.Errorf("Error() = %q, Unwrap() = %v", got, e.Unwrap())
	}
}

// TestAskNestedSaysOnce: a handler that asks another through Ask and
// returns its *Error is not wrapped a second time, so the text says "zap:
// handler failed" once and the cause is still reachable.
func TestAskNestedSaysOnce(t *testing.T) {
	errDB := errors.New("db down")
	inner := HandlerFunc(func(context.Context, *Request) (*Reply, error) { return nil, errDB })
	outer := HandlerFunc(func(ctx context.Context, r *Request) (*Reply, error) { return Ask(ctx, inner, r) })
	req := request("NULL", "", "::1")
	rep, err := Ask(context.Background(), outer, req)
	if want := "zap: handler failed: db down"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if !errors.Is(err, errDB) || rep == nil || rep.StatusCode != StatusInternalError || string(rep.RequestID) != "1" {
		t.Errorf("reply %+v, error %v", rep, err)
	}
	// Any other error, even one that wraps an *Error, is wrapped once.
	wrapped := HandlerFunc(func(context.Context, *Request) (*Reply, error) {
		return nil, fmt.Errorf("pool: %w", &Error{Reason: "x"})
	})
	if _, err := Ask(context.Background(), wrapped, req); err == nil || err.Error() != "zap: handler failed: pool: zap: x" {
		t.Errorf("error %v", err)
	}
}

// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gss

import "errors"

func errorsIs(err, target error) bool { return errors.Is(err, target) }

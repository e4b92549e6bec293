// Copyright 2026 The zmtpsec Authors. All rights reserved.

package gssapi

import "github.com/jcmturner/gokrb5/v8/keytab"

// KeytabInternal gives tests the gokrb5 keytab inside k.
func KeytabInternal(k *Keytab) *keytab.Keytab { return k.kt }

package testkeys

import "testing"

// The key pair of libzmq's curve_keygen documentation (RFC 26's test
// client), public and secret.
const (
	docPublic = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
	docSecret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
)

func TestFromZ85(t *testing.T) {
	kp := FromZ85(t, docPublic, docSecret)
	pub, err := kp.Secret.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if pub != kp.Public {
		t.Errorf("public key of the secret = %v, want %v", pub, kp.Public)
	}
}

func TestFromSeed(t *testing.T) {
	a, b, c := FromSeed(t, 1), FromSeed(t, 1), FromSeed(t, 2)
	if a != b {
		t.Error("FromSeed is not deterministic")
	}
	if a.Public == c.Public {
		t.Error("FromSeed gives the same key for different seeds")
	}
	if n1, n2 := New(t), New(t); n1.Public == n2.Public {
		t.Error("New gives the same key twice")
	}
	if a.Public.IsZero() {
		t.Error("FromSeed gives a zero public key")
	}
}

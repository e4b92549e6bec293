package socket

import "testing"

func TestBigSize(t *testing.T) {
	prev := 0
	for n := arenaMaxCopied + 1; n <= 1<<bigMaxShift; n += 997 {
		size, c := bigSize(n)
		if c < 0 || size < n || size > max(1<<bigMinShift, n+n/4) {
			t.Fatalf("bigSize(%d) = %d, class %d", n, size, c)
		}
		if again, c2 := bigSize(size); again != size || c2 != c {
			t.Fatalf("bigSize(%d) = %d, %d; its own class is %d, %d", n, size, c, again, c2)
		}
		if c < prev {
			t.Fatalf("class %d for %d after class %d", c, n, prev)
		}
		prev = c
	}
	if _, c := bigSize(1<<bigMaxShift + 1); c != -1 {
		t.Fatalf("past the largest class: %d", c)
	}
	if _, c := bigSize(1 << bigMaxShift); c != len(bigFree.lists)-1 {
		t.Fatalf("the largest size is class %d of %d", c, len(bigFree.lists))
	}
}

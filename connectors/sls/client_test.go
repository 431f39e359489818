package sls

import "testing"

func TestCursorNumbers(t *testing.T) {
	for _, n := range []int64{0, 1, 1795480605280708} {
		c := encodeCursorNum(n)
		got, err := decodeCursorNum(c)
		if err != nil || got != n {
			t.Fatalf("%d → %q → %d, %v", n, c, got, err)
		}
	}
	if _, err := decodeCursorNum("not base64!"); err == nil {
		t.Fatal("bad cursor decoded")
	}
}

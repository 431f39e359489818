package nats

import "testing"

func TestSubjectMatches(t *testing.T) {
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"logs.>", "logs.nginx", true},
		{"logs.>", "logs.a.b", true},
		{"logs.>", "logs", false},
		{"logs.*", "logs.nginx", true},
		{"logs.*", "logs.a.b", false},
		{"logs.nginx", "logs.nginx", true},
		{"logs.nginx", "logs.app", false},
		{">", "anything.at.all", true},
		{"*.nginx", "logs.nginx", true},
	} {
		if got := subjectMatches(c.filter, c.subject); got != c.want {
			t.Errorf("subjectMatches(%q, %q) = %t, want %t", c.filter, c.subject, got, c.want)
		}
	}
}

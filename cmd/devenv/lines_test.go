package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestLineWriter: whatever pieces a node's output comes in, the terminal
// gets whole lines, each behind the node's name.
func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", maxLine)
	for _, c := range []struct {
		name   string
		chunks []string
		want   string
	}{
		{"whole lines", []string{"a\nb\n"}, "n1 | a\nn1 | b\n"},
		{"a line in pieces", []string{"he", "llo", "\nwor", "ld\n"}, "n1 | hello\nn1 | world\n"},
		{"an empty line", []string{"\n\n"}, "n1 | \nn1 | \n"},
		{"no newline at the end", []string{"last"}, "n1 | last\n"},
		{"a line too long to hold", []string{long, "y\n"}, "n1 | " + long + "\nn1 | y\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			lw := &lineWriter{prefix: "n1 | ", out: &out}
			for _, ch := range c.chunks {
				if n, err := lw.Write([]byte(ch)); n != len(ch) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", ch, n, err, len(ch))
				}
			}
			lw.flush()
			if got := out.String(); got != c.want {
				t.Errorf("got %q; want %q", got, c.want)
			}
		})
	}
}

// TestLineWriterTerminalGone: a terminal that fails does not fail the
// writer, which also feeds the node's log file.
func TestLineWriterTerminalGone(t *testing.T) {
	lw := &lineWriter{prefix: "n1 | ", out: failing{}}
	if n, err := lw.Write([]byte("a\nb")); n != 3 || err != nil {
		t.Errorf("Write = %d, %v; want 3, nil", n, err)
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errTerminal }

var errTerminal = bytes.ErrTooLarge

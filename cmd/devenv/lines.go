package main

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// syncWriter is the terminal the nodes share: one whole line per Write, so
// two nodes' lines never mix within a line.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newSyncWriter(w io.Writer) *syncWriter { return &syncWriter{w: w} }

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// say writes one line of the supervisor's own.
func (s *syncWriter) say(format string, args ...any) {
	fmt.Fprintf(s, "devenv: "+format+"\n", args...)
}

// maxLine bounds how much of a line without its newline lineWriter holds
// back: longer, it is written in pieces, each behind the prefix.
const maxLine = 64 << 10

// lineWriter writes each line of what it is given to out behind a prefix
// (such as "node1 | "), whole lines only: a partial line waits for its end,
// or for flush. It never fails, so a terminal gone does not stop the copy
// that also feeds the node's log file, which would block the node.
type lineWriter struct {
	prefix string
	out    io.Writer
	buf    []byte // the partial line
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			if len(l.buf) >= maxLine {
				l.emit(nil)
			}
			break
		}
		l.emit(p[:i])
		p = p[i+1:]
	}
	return n, nil
}

// emit writes the partial line, then rest, as one prefixed line.
func (l *lineWriter) emit(rest []byte) {
	line := make([]byte, 0, len(l.prefix)+len(l.buf)+len(rest)+1)
	line = append(line, l.prefix...)
	line = append(line, l.buf...)
	line = append(line, rest...)
	line = append(line, '\n')
	l.out.Write(line) // a terminal that fails loses lines; the log file keeps them
	l.buf = l.buf[:0]
}

// flush writes a last line that lacked its newline.
func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.emit(nil)
	}
}

// tolerantWriter is a log file whose write errors (a full disk) lose the
// line rather than stop the copy.
type tolerantWriter struct{ w io.Writer }

func (t tolerantWriter) Write(p []byte) (int, error) {
	t.w.Write(p)
	return len(p), nil
}

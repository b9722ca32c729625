package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/swiperhq/swiper"
)

// MaxJSONDepth is how deeply a request's JSON may nest arrays and objects.
// No request needs more than three levels; encoding/json alone allows
// 10,000.
const MaxJSONDepth = 32

// checkText walks data, one JSON value that encoding/json has accepted, and
// refuses what encoding/json lets through quietly: an object with a key
// twice (it keeps the last), a string that is not valid UTF-8 or holds a
// lone surrogate escape (it makes them U+FFFD), and nesting past
// MaxJSONDepth. The error is an EBadRequest naming the top-level key under
// which the fault lies, if there is one. It returns the top-level object's
// keys, as sent.
func checkText(data []byte) ([]string, error) {
	s := textScanner{data: data}
	if err := s.value(0); err != nil {
		if s.field != "" {
			return nil, swiper.FieldError(swiper.EBadRequest, s.field, "%s %s", s.field, err.msg)
		}
		return nil, swiper.Errorf(swiper.EBadRequest, "the body %s", err.msg)
	}
	return s.keys, nil
}

type textError struct{ msg string }

// textScanner is a scanner for JSON already known to be valid: it checks
// text, keys and depth, not syntax.
type textScanner struct {
	data  []byte
	i     int
	field string   // the top-level key being scanned, once known
	keys  []string // the top-level object's keys
}

// smallObject is how many keys an object may have before duplicates are
// looked for in a map rather than by a walk over the keys seen.
const smallObject = 16

func (s *textScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *textScanner) value(depth int) *textError {
	s.space()
	if s.i >= len(s.data) {
		return nil
	}
	switch s.data[s.i] {
	case '{':
		if depth >= MaxJSONDepth {
			return &textError{"is nested too deeply"}
		}
		s.i++
		var (
			few  [smallObject]string
			seen = few[:0]
			many map[string]bool
		)
		for {
			s.space()
			if s.i >= len(s.data) {
				return nil
			}
			switch s.data[s.i] {
			case '}':
				s.i++
				return nil
			case ',':
				s.i++
				continue
			}
			start := s.i
			if err := s.str(); err != nil {
				if depth == 0 {
					s.field = ""
				}
				return err
			}
			key := s.key(start)
			if depth == 0 {
				s.field = key
			}
			dup := false
			if many != nil {
				dup = many[key]
				many[key] = true
			} else {
				dup = slices.Contains(seen, key)
				seen = append(seen, key)
				if len(seen) > smallObject {
					many = make(map[string]bool, 2*len(seen))
					for _, k := range seen {
						many[k] = true
					}
				}
			}
			if dup {
				if depth == 0 {
					return &textError{"appears more than once"}
				}
				return &textError{fmt.Sprintf("holds the key %q more than once", key)}
			}
			if depth == 0 {
				s.keys = append(s.keys, key)
			}
			s.space()
			if s.i < len(s.data) && s.data[s.i] == ':' {
				s.i++
			}
			if err := s.step(depth + 1); err != nil {
				return err
			}
		}
	case '[':
		if depth >= MaxJSONDepth {
			return &textError{"is nested too deeply"}
		}
		s.i++
		for {
			s.space()
			if s.i >= len(s.data) {
				return nil
			}
			switch s.data[s.i] {
			case ']':
				s.i++
				return nil
			case ',':
				s.i++
				continue
			}
			if err := s.step(depth + 1); err != nil {
				return err
			}
		}
	case '"':
		return s.str()
	}
	// A number, true, false or null.
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ',', ']', '}', ' ', '\t', '\r', '\n':
			return nil
		}
		s.i++
	}
	return nil
}

// key returns the text of the string just scanned from start, its opening
// quote: as it stands unless it holds an escape.
func (s *textScanner) key(start int) string {
	raw := s.data[start:s.i]
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1])
	}
	var key string
	json.Unmarshal(raw, &key) // valid: checked by str
	return key
}

// step scans a value inside a container, making progress even on input
// that is not JSON after all, so that the scan always ends.
func (s *textScanner) step(depth int) *textError {
	at := s.i
	err := s.value(depth)
	if s.i == at {
		s.i++
	}
	return err
}

// str moves past one string, checking that its bytes are UTF-8 and that
// each \u escape of a surrogate is half of a pair.
func (s *textScanner) str() *textError {
	s.i++ // the opening quote
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			if s.i+1 < len(s.data) && s.data[s.i+1] == 'u' {
				r := s.hex(s.i + 2)
				s.i += 6
				switch {
				case r >= 0xD800 && r < 0xDC00:
					if s.i+1 >= len(s.data) || s.data[s.i] != '\\' || s.data[s.i+1] != 'u' {
						return &textError{"holds a lone surrogate escape, which is not Unicode text"}
					}
					if lo := s.hex(s.i + 2); lo < 0xDC00 || lo >= 0xE000 {
						return &textError{"holds a lone surrogate escape, which is not Unicode text"}
					}
					s.i += 6
				case r >= 0xDC00 && r < 0xE000:
					return &textError{"holds a lone surrogate escape, which is not Unicode text"}
				}
				continue
			}
			s.i += 2
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.data[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return &textError{"holds text that is not valid UTF-8"}
			}
			s.i += n
		}
	}
	return nil
}

// hex reads the four hex digits at i (valid JSON has them); -1 if cut short.
func (s *textScanner) hex(i int) rune {
	if i+4 > len(s.data) {
		return -1
	}
	var r rune
	for _, c := range s.data[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return -1
		}
	}
	return r
}

// Package wiretest decodes JSON bodies and frames exactly into the wire
// types, for tests: a change of the contract then breaks the tests at
// compile time, and a key a type lacks, or a body lacks, fails them at run
// time. It depends on the standard library only.
package wiretest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// Exactly decodes data into a T and checks that encoding the T again
// gives the same JSON value: no key of data is dropped, none of T's is
// missing from data, and no value changes on the way (a null stays null,
// a number stays that number). Keys T leaves out when empty (omitempty)
// must then be absent from data, not present and empty. What it cannot
// see is how a value was written (a time's zone, say, when it names the
// same offset); tests that pin that keep golden files.
func Exactly[T any](data []byte) (T, error) {
	var v T
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		return v, fmt.Errorf("decode %.500q into %T: %v", data, v, err)
	}
	if d.More() {
		return v, fmt.Errorf("decode %.500q into %T: more after the value", data, v)
	}
	again, err := json.Marshal(v)
	if err != nil {
		return v, fmt.Errorf("encode %T: %v", v, err)
	}
	var want, got any
	if err := json.Unmarshal(data, &want); err != nil {
		return v, fmt.Errorf("decode %.500q: %v", data, err)
	}
	if err := json.Unmarshal(again, &got); err != nil {
		return v, fmt.Errorf("decode %.500q: %v", again, err)
	}
	if !reflect.DeepEqual(got, want) {
		return v, fmt.Errorf("%.500s is not exactly a %T, which reads as %.500s", data, v, again)
	}
	return v, nil
}

// Decode returns data decoded exactly into a T (see Exactly), failing the
// test if it is not one.
func Decode[T any](tb testing.TB, data []byte) T {
	tb.Helper()
	v, err := Exactly[T](data)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

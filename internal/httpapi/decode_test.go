package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
)

// loginBody stands for the request structs of the API: strings, an int64
// and a nested object.
type loginBody struct {
	Phone *string          `json:"phone"`
	Code  *string          `json:"code"`
	SID   *int64           `json:"sid"`
	Extra *json.RawMessage `json:"extra"`
}

// TestDecodeJSONHostile feeds the shared body decoder what a hostile
// client might and checks the code and field of each refusal. These are
// what every endpoint with a JSON body gets, as DecodeJSON is the one
// decoder they share.
func TestDecodeJSONHostile(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name  string
		ctype string
		body  string
		code  swiper.Code // 0: accepted
		field string
	}{
		{"plain", "", `{"phone": "+8613800138000"}`, 0, ""},
		{"json type", "application/json", `{"phone": "x"}`, 0, ""},
		{"json type with charset", "application/json; charset=UTF-8", `{"phone": "x"}`, 0, ""},
		{"problem+json", "application/merge-patch+json", `{"phone": "x"}`, 0, ""},
		{"a valid surrogate pair", "", `{"phone": "\ud83d\ude00"}`, 0, ""},
		{"utf-8 text", "", `{"phone": "名字 😀"}`, 0, ""},
		{"escaped NUL (left to the field's own rule)", "", `{"phone": "a\u0000b"}`, 0, ""},
		{"nesting inside a raw field, within bounds", "", `{"extra": ` + deep(20) + `}`, 0, ""},

		{"empty body", "", ``, swiper.EBadRequest, ""},
		{"only spaces", "", "  \n\t ", swiper.EBadRequest, ""},
		{"null", "", `null`, swiper.EBadRequest, ""},
		{"trailing garbage", "", `{"phone": "x"} garbage`, swiper.EBadRequest, ""},
		{"trailing bracket", "", `{"phone": "x"}]`, swiper.EBadRequest, ""},
		{"two objects", "", `{}{}`, swiper.EBadRequest, ""},
		{"raw NUL byte", "", "{\"phone\": \"a\x00b\"}", swiper.EBadRequest, ""},
		{"NUL after the object", "", "{}\x00", swiper.EBadRequest, ""},
		{"not an object", "", `[1, 2]`, swiper.EBadRequest, ""},
		{"a string", "", `"phone"`, swiper.EBadRequest, ""},
		{"cut short", "", `{"phone": "x`, swiper.EBadRequest, ""},
		{"wrong type", "", `{"phone": 8613800138000}`, swiper.EBadRequest, "phone"},
		{"id beyond int64", "", `{"sid": 99999999999999999999}`, swiper.EBadRequest, "sid"},
		{"id of 1e400", "", `{"sid": 1e400}`, swiper.EBadRequest, "sid"},
		{"float for an int", "", `{"sid": 1.5}`, swiper.EBadRequest, "sid"},
		{"exponent for an int", "", `{"sid": 1e3}`, swiper.EBadRequest, "sid"},
		{"id as a string", "", `{"sid": "42"}`, swiper.EBadRequest, "sid"},
		{"unknown field", "", `{"phone": "x", "admin": true}`, swiper.EBadRequest, "admin"},
		{"field in other case", "", `{"Phone": "x"}`, swiper.EBadRequest, "Phone"},
		{"duplicate key", "", `{"sid": 1, "sid": 2}`, swiper.EBadRequest, "sid"},
		{"duplicate key by escape", "", `{"sid": 1, "\u0073id": 2}`, swiper.EBadRequest, "sid"},
		{"duplicate key nested", "", `{"extra": {"a": 1, "a": 2}}`, swiper.EBadRequest, "extra"},
		{"duplicate key in a large object", "", `{"extra": {` + manyKeys(40) + `, "k7": 0}}`, swiper.EBadRequest, "extra"},
		{"duplicate key by escape in a large object", "", `{"extra": {` + manyKeys(40) + `, "\u006b39": 0}}`, swiper.EBadRequest, "extra"},
		{"a large object without duplicates", "", `{"extra": {` + manyKeys(40) + `}}`, 0, ""},
		{"the first unknown field is named", "", `{"zeta": 1, "phone": "x", "alpha": 2}`, swiper.EBadRequest, "zeta"},
		{"a case-folded field among others", "", `{"code": "1", "Phone": "x", "CODE": "2"}`, swiper.EBadRequest, "CODE"},
		{"invalid UTF-8", "", "{\"phone\": \"a\xffb\"}", swiper.EBadRequest, "phone"},
		{"overlong UTF-8", "", "{\"phone\": \"\xc0\xaf\"}", swiper.EBadRequest, "phone"},
		{"UTF-8 surrogate", "", "{\"phone\": \"\xed\xa0\x80\"}", swiper.EBadRequest, "phone"},
		{"invalid UTF-8 in a key", "", "{\"ph\xffone\": \"x\"}", swiper.EBadRequest, ""},
		{"lone high surrogate", "", `{"phone": "\ud800"}`, swiper.EBadRequest, "phone"},
		{"lone low surrogate", "", `{"phone": "\udc00x"}`, swiper.EBadRequest, "phone"},
		{"reversed pair", "", `{"phone": "\ude00\ud83d"}`, swiper.EBadRequest, "phone"},
		{"nested 10,000 deep", "", `{"extra": ` + deep(10000) + `}`, swiper.EBadRequest, ""},
		{"nested 33 deep", "", `{"extra": ` + deep(33) + `}`, swiper.EBadRequest, "extra"},
		{"a string of 1 MB", "", `{"phone": "` + strings.Repeat("x", 1<<20) + `"}`, swiper.ETooLarge, ""},
		{"64 KiB and one byte", "", `{"phone": "` + strings.Repeat("x", httpapi.MaxBodyBytes-12) + `"}`, swiper.ETooLarge, ""},
		{"text/plain", "text/plain", `{"phone": "x"}`, swiper.EUnsupportedMedia, ""},
		{"form", "application/x-www-form-urlencoded", `{"phone": "x"}`, swiper.EUnsupportedMedia, ""},
		{"multipart", "multipart/form-data; boundary=x", `{"phone": "x"}`, swiper.EUnsupportedMedia, ""},
		{"json in Latin-1", "application/json; charset=iso-8859-1", `{"phone": "x"}`, swiper.EUnsupportedMedia, ""},
		{"unparsable type", "application/json; ;;", `{"phone": "x"}`, swiper.EUnsupportedMedia, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/code", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			var dst loginBody
			err := httpapi.DecodeJSON(httptest.NewRecorder(), r, &dst, false)
			if got := swiper.ErrorCode(err); got != tt.code {
				t.Fatalf("DecodeJSON(%.60q) = %v (code %d); want code %d", tt.body, err, got, tt.code)
			}
			if err == nil {
				return
			}
			if got := swiper.AsError(err).Field; got != tt.field {
				t.Errorf("field = %q; want %q (%v)", got, tt.field, err)
			}
			if got := swiper.StatusOf(swiper.ErrorCode(err)); got >= 500 {
				t.Errorf("status %d for bad input", got)
			}
		})
	}
}

// manyKeys returns n distinct keys "k0": 0, … "k<n-1>": 0, past the size at
// which duplicates are looked for in a map.
func manyKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf(`"k%d": 0`, i)
	}
	return strings.Join(keys, ", ")
}

// TestDecodeObjectHostile: the raw-object decoder of PATCH /me and PUT
// /admin/v1/config refuses what the struct decoder does, so a field's raw
// value never holds bad text or a twin.
func TestDecodeObjectHostile(t *testing.T) {
	for _, body := range []string{
		`{"nickname": "a", "nickname": "b"}`,
		"{\"nickname\": \"\xff\"}",
		`{"nickname": "\udfff"}`,
	} {
		r := httptest.NewRequest("PATCH", "/api/v1/me", strings.NewReader(body))
		_, err := httpapi.DecodeObject(httptest.NewRecorder(), r)
		if e := swiper.AsError(err); e == nil || e.Code != swiper.EBadRequest || e.Field != "nickname" {
			t.Errorf("DecodeObject(%q) = %v; want 1100 naming nickname", body, err)
		}
	}
}

// FuzzDecodeJSON: whatever the body, the shared decoder returns (within a
// bound: a hang fails) either a struct that encoding/json agrees with,
// from a body of valid UTF-8 JSON without duplicate keys, or a swiper error
// 1100 or 1104 that a client is shown with a 4xx status.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"phone": "+8613800138000", "code": "123456"}`,
		`{"sid": 42}`,
		`{"sid": 99999999999999999999}`,
		`{"sid": -1.5e-3}`,
		`{"sid": 1, "sid": 2}`,
		`{"phone": "\ud800"}`,
		`{"phone": "\ud83d\ude00"}`,
		"{\"phone\": \"\xff\"}",
		`{"extra": [[[[{"a": {"b": [1, {"c": null}]}}]]]]}`,
		`{"extra": {"a": 1, "\u0061": 2}}`,
		`{} x`,
		`[`,
		``,
		`null`,
		`{"PHONE": "x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var (
			dst  loginBody
			err  error
			done = make(chan struct{})
		)
		// Ends when DecodeJSON returns; the test fails if that takes longer
		// than a hang would.
		go func() {
			defer close(done)
			r := httptest.NewRequest("POST", "/api/v1/auth/code", bytes.NewReader(body))
			err = httpapi.DecodeJSON(httptest.NewRecorder(), r, &dst, false)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("DecodeJSON(%q) has not returned after 10 s", body)
		}
		if err != nil {
			var e *swiper.Error
			if !errors.As(err, &e) {
				t.Fatalf("DecodeJSON(%q) = %T %v; want a *swiper.Error", body, err, err)
			}
			if e.Code != swiper.EBadRequest && e.Code != swiper.ETooLarge {
				t.Fatalf("DecodeJSON(%q) = code %d; want 1100 or 1104", body, e.Code)
			}
			if s := swiper.StatusOf(e.Code); s < 400 || s >= 500 {
				t.Fatalf("DecodeJSON(%q): status %d", body, s)
			}
			if e.Message == "" {
				t.Fatalf("DecodeJSON(%q): error without a message", body)
			}
			return
		}
		if !json.Valid(body) || !utf8.Valid(body) {
			t.Fatalf("DecodeJSON accepted %q, which is not valid UTF-8 JSON", body)
		}
		var std loginBody
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("DecodeJSON accepted %q; encoding/json says %v", body, err)
		}
		a, _ := json.Marshal(dst)
		b, _ := json.Marshal(std)
		if !bytes.Equal(a, b) {
			t.Fatalf("DecodeJSON(%q) = %s; encoding/json reads %s", body, a, b)
		}
		for _, s := range []*string{dst.Phone, dst.Code} {
			if s != nil && strings.ContainsRune(*s, utf8.RuneError) && !bytes.Contains(body, []byte("\uFFFD")) && !bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
				t.Fatalf("DecodeJSON(%q) made up a U+FFFD: %q", body, *s)
			}
		}
	})
}

// FuzzParams: a path id or a limit is either refused with 1100 naming it,
// or read as a number whose plain decimal spelling is what was sent.
func FuzzParams(f *testing.F) {
	for _, seed := range []string{"1", "42", "9223372036854775807", "9223372036854775808", "99999999999999999999",
		"-1", "0", "+5", "05", "5.0", "1e3", "abc", " 5", "5 ", "\x00", "\xff", "٣", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("GET", "/api/v1/friends/x", nil)
		r.SetPathValue("id", s)
		id, err := httpapi.IDParam(r, "id")
		if err != nil {
			if e := swiper.AsError(err); e.Code != swiper.EBadRequest || e.Field != "id" {
				t.Fatalf("IDParam(%q) = %v; want 1100 naming id", s, err)
			}
		} else if id <= 0 || jsonInt(id) != s {
			t.Fatalf("IDParam(%q) = %d; want a refusal or %q itself", s, id, jsonInt(id))
		}

		r = &http.Request{Method: "GET", URL: r.URL}
		q := r.URL.Query()
		q.Set("limit", s)
		r.URL.RawQuery = q.Encode()
		n, err := httpapi.LimitParam(r, 20, 50)
		if err != nil {
			if e := swiper.AsError(err); e.Code != swiper.EBadRequest || e.Field != "limit" {
				t.Fatalf("LimitParam(%q) = %v; want 1100 naming limit", s, err)
			}
		} else if n < 1 || n > 50 || jsonInt(int64(n)) != s {
			t.Fatalf("LimitParam(%q) = %d; want a refusal or %q itself in [1, 50]", s, n, jsonInt(int64(n)))
		}
	})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// BenchmarkDecodeBytes decodes a swipe's params, as every swipe request
// over the socket does (the frame, then its params).
//
//	go test -run '^$' -bench DecodeBytes ./internal/httpapi/
func BenchmarkDecodeBytes(b *testing.B) {
	type swipeParams struct {
		SID  json.Number `json:"sid"`
		Mark string      `json:"mark"`
	}
	data := []byte(`{"sid":123456,"mark":"like"}`)
	b.ReportAllocs()
	for b.Loop() {
		var p swipeParams
		if err := httpapi.DecodeBytes(data, &p, false); err != nil {
			b.Fatal(err)
		}
	}
}

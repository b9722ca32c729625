package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/swiperhq/swiper"
)

// MaxBodyBytes is the largest request body accepted, but for avatars.
const MaxBodyBytes = 64 << 10

// WriteError writes err as a JSON error response with its status, and logs
// it when it is a fault of ours.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := swiper.AsError(err)
	status := swiper.StatusOf(e.Code)
	// A client that hung up is not a fault of ours worth an error line.
	if status >= 500 && r.Context().Err() == nil {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "code", int(e.Code), "err", err)
	}
	if (e.Code == swiper.ERateLimited || e.Code == swiper.EUnavailable) && e.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
	}
	if e.Code == swiper.ELoginRequired {
		w.Header().Set("WWW-Authenticate", `Bearer realm="swiper"`)
	}
	WriteJSON(w, status, swiper.ErrorReply{Error: swiper.ErrorBodyOf(err)})
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads r's body, at most MaxBodyBytes, into dst, rejecting
// unknown fields (names match exactly, not case-insensitively as
// encoding/json would), wrong types, duplicate keys, text that is not
// Unicode and trailing data. An empty body is an error unless emptyOK; a
// body sent with a Content-Type other than JSON is refused. Errors are
// *swiper.Error: EBadRequest (naming the field where one is at fault),
// ETooLarge or EUnsupportedMedia.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, emptyOK bool) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := checkJSONType(r.Header.Get("Content-Type")); err != nil {
			return err
		}
	}
	return DecodeBytes(data, dst, emptyOK)
}

// checkJSONType accepts a body's Content-Type if it is absent (a client
// that names none means JSON), application/json or a +json type, in UTF-8.
// Anything else is refused, forms included (curl -d sends one: use curl
// --json), which also keeps a foreign web page from posting to us without a
// CORS preflight, as it could with text/plain or a form.
func checkJSONType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return swiper.Errorf(swiper.EUnsupportedMedia, "the body must be sent as Content-Type: application/json (UTF-8)")
}

// DecodeBytes is DecodeJSON for JSON already read: a WebSocket frame, or
// the params of a call made over one.
func DecodeBytes(data []byte, dst any, emptyOK bool) error {
	if v := bytes.TrimSpace(data); len(v) == 0 || string(v) == "null" {
		if emptyOK {
			return nil
		}
		return decodeError(io.EOF)
	}
	// encoding/json takes the last of duplicate keys and turns bad UTF-8
	// into U+FFFD without a word; both would have us act on something other
	// than what was sent. Checked first, so that an unknown field is never
	// named by a mangled key; malformed JSON is left to the decoder to
	// describe.
	valid := json.Valid(data)
	var keys []string
	if valid {
		var err error
		if keys, err = checkText(data); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// Valid JSON is one value: only other text can hold more.
	if !valid {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return swiper.Errorf(swiper.EBadRequest, "the body must hold exactly one JSON value")
		}
	}
	return exactFields(keys, dst)
}

// exactFields rejects an object key, of those sent (keys), that matched
// one of dst's fields only by ignoring case ("PHONE" for "phone").
func exactFields(keys []string, dst any) error {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || len(keys) == 0 {
		return nil
	}
	known := fieldNames(t)
	var unknown []string
	for _, name := range keys {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		name := slices.Min(unknown) // the same one whatever the order sent
		return swiper.FieldError(swiper.EBadRequest, name, "unknown field %q", name)
	}
	return nil
}

// namesByType caches fieldNames: request types are few and fixed.
var namesByType sync.Map // reflect.Type -> map[string]bool

// fieldNames returns the JSON names of struct type t's fields.
func fieldNames(t reflect.Type) map[string]bool {
	if v, ok := namesByType.Load(t); ok {
		return v.(map[string]bool)
	}
	known := make(map[string]bool, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	namesByType.Store(t, known)
	return known
}

func decodeError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return swiper.Errorf(swiper.ETooLarge, "the body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return swiper.Errorf(swiper.EBadRequest, "the body is empty or null; a JSON object is required")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return swiper.Errorf(swiper.EBadRequest, "the body is not valid JSON")
	case errors.As(err, &te):
		if te.Field == "" {
			return swiper.Errorf(swiper.EBadRequest, "the body must be a JSON object")
		}
		return swiper.FieldError(swiper.EBadRequest, te.Field, "%s", typeMessage(te))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return swiper.FieldError(swiper.EBadRequest, field, "unknown field %q", field)
	}
	return swiper.Errorf(swiper.EBadRequest, "the body could not be read as JSON")
}

// typeMessage says what a field that had a value of the wrong type must
// be: "a whole number" for an integer given 1.5 or 1e30, not "a number".
func typeMessage(te *json.UnmarshalTypeError) string {
	name := te.Field
	if name == "" {
		name = "the value"
	}
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if strings.HasPrefix(te.Value, "number") {
			return fmt.Sprintf("%s must be a whole number in range", name)
		}
	}
	return fmt.Sprintf("%s must be a JSON %s", name, jsonKind(te.Type.Kind().String()))
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "bool":
		return "boolean"
	case goKind == "map", goKind == "struct":
		return "object"
	case goKind == "slice", goKind == "array":
		return "array"
	}
	return goKind
}

// DecodeObject reads r's body as a JSON object whose values are kept raw, for
// endpoints that accept any subset of known fields (PATCH /me, PUT /config).
func DecodeObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := DecodeJSON(w, r, &m, false); err != nil {
		return nil, err
	}
	if m == nil { // the body was "null"
		return nil, swiper.Errorf(swiper.EBadRequest, "the body must be a JSON object")
	}
	return m, nil
}

// Field decodes one raw value of a JSON object into dst; a null or a value of
// the wrong type is an EBadRequest naming the field.
func Field(name string, raw json.RawMessage, dst any) error {
	if string(raw) == "null" {
		return swiper.FieldError(swiper.EBadRequest, name, "%s must not be null", name)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			te.Field = name
			return swiper.FieldError(swiper.EBadRequest, name, "%s", typeMessage(te))
		}
		return swiper.FieldError(swiper.EBadRequest, name, "%s is not valid", name)
	}
	return nil
}

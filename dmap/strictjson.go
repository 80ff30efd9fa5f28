package dmap

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
)

// decodeJSON decodes one JSON object into the struct v strictly (spec
// §2.4): member names must match a field's json tag exactly (Go's decoder
// alone would match them case-insensitively), none may repeat, none may be
// unknown, nested objects follow the same rules, and nothing but white
// space may follow the object. Errors are *Error with code bad_json or
// unknown_field.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := checkObject(dec, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrBadJSON.With("data after the JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return ErrBadJSON.With("%s", clip(err.Error(), 200))
	}
	return nil
}

// checkObject reads one object from dec and checks its member names
// against the struct type t; path names it in errors.
func checkObject(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonSyntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return ErrBadJSON.With("%s: want a JSON object", orBody(path))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonSyntax(err)
		}
		name := tok.(string) // inside an object the decoder yields only string keys
		field, ok := fieldByTag(t, name)
		if !ok {
			return ErrUnknownField.With("%s: unknown member %q", orBody(path), clip(name, 64))
		}
		if seen[name] {
			return ErrBadJSON.With("%s: member %q appears twice", orBody(path), name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonSyntax(err)
		}
		ft := field.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && string(raw) != "null" {
			if err := checkObject(json.NewDecoder(bytes.NewReader(raw)), ft, path+"."+name); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonSyntax(err)
	}
	return nil
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonSyntax(err error) error {
	if errors.Is(err, io.EOF) {
		return ErrBadJSON.With("the JSON ends early or the body is empty")
	}
	return ErrBadJSON.With("%s", clip(err.Error(), 200))
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return "body" + path
}

// clip shortens hostile text before it goes into an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

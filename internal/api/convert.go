package api

import (
	"time"

	"github.com/oapi-codegen/nullable"
)

// ptr returns the value of a nullable field, or nil when it is null or absent.
func ptr[T any](n nullable.Nullable[T]) *T {
	if !n.IsSpecified() || n.IsNull() {
		return nil
	}
	v := n.MustGet()
	return &v
}

// toNullable is the response form of an optional value: null when nil.
func toNullable[T any](v *T) nullable.Nullable[T] {
	if v == nil {
		return nullable.NewNullNullable[T]()
	}
	return nullable.NewNullableWithValue(*v)
}

// utcPtr returns t in UTC, for RFC 3339 output with a Z.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

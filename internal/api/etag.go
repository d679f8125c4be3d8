package api

import (
	"strconv"
	"strings"

	"github.com/todoapp/todo-api/internal/apperr"
)

// Entity tags and conditional requests (openapi/tasks-api.yaml: ETag,
// If-Match, If-None-Match). A task's or tag's strong entity tag is its
// version in quotes; a list's is weak.

// etag is the strong entity tag of a version.
func etag(version int32) string { return `"` + strconv.FormatInt(int64(version), 10) + `"` }

// entityTags splits a header of comma-separated entity tags (or `*`) into
// its tags, each with its W/ prefix and quotes. The request validator has
// checked the form of If-Match; If-None-Match is read leniently: what does
// not parse matches nothing.
func entityTags(header string) []string {
	var tags []string
	for _, part := range strings.Split(header, ",") {
		if part = strings.TrimSpace(part); part != "" {
			tags = append(tags, part)
		}
	}
	return tags
}

// ifMatch turns an If-Match header into the versions a write may change:
// nil for no condition (no header, or `*`: any current version), otherwise
// the versions its strong tags name (possibly none, which nothing matches:
// weak tags never do).
func ifMatch(header *string) []int32 {
	if header == nil {
		return nil
	}
	tags := entityTags(*header)
	versions := make([]int32, 0, len(tags))
	for _, t := range tags {
		if t == "*" {
			return nil
		}
		if v, ok := strongVersion(t); ok {
			versions = append(versions, v)
		}
	}
	return versions
}

// strongVersion reads a version from a strong entity tag ("3").
func strongVersion(tag string) (int32, bool) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 32)
	if err != nil || v < 1 {
		return 0, false
	}
	return int32(v), true
}

// noneMatch reports whether an If-None-Match header names current (an
// entity tag) or is `*`, comparing weakly: W/"3" and "3" are the same tag.
func noneMatch(header *string, current string) bool {
	if header == nil {
		return false
	}
	current = strings.TrimPrefix(current, "W/")
	for _, t := range entityTags(*header) {
		if t == "*" || strings.TrimPrefix(t, "W/") == current {
			return true
		}
	}
	return false
}

// preconditionFailed is the 412 of a write whose If-Match named none of the
// resource's current version.
func preconditionFailed(version int32) error {
	return apperr.PreconditionFailed.WithHeader("ETag", etag(version))
}

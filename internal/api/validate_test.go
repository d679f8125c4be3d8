package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
)

func TestEscapeLike(t *testing.T) {
	for in, want := range map[string]string{
		"milk": "milk", "100%": `100\%`, "a_b": `a\_b`, `c:\dir`: `c:\\dir`, `%_\`: `\%\_\\`,
	} {
		assert.Equal(t, want, escapeLike(in), in)
	}
}

func TestParseDueDate(t *testing.T) {
	ok := map[string]string{
		"2026-12-01T17:00:00Z":        "2026-12-01T17:00:00Z",
		"2026-12-01T17:00:00+01:00":   "2026-12-01T16:00:00Z",
		"2026-12-01T17:00:00.5-02:00": "2026-12-01T19:00:00.5Z",
		"2026-12-01T17:00:00":         "2026-12-01T17:00:00Z",
		"2026-12-01T17:00":            "2026-12-01T17:00:00Z",
		"1999-01-01T00:00:00Z":        "1999-01-01T00:00:00Z",
	}
	for in, want := range ok {
		got, err := parseDueDate(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got.Format(time.RFC3339Nano), in)
	}
	for _, in := range []string{"", "2026-12-01", "2026-12-01 17:00:00", "0000-01-01T00:00:00Z", "2026-12-01T25:00:00Z", "now"} {
		_, err := parseDueDate(in)
		assert.Equal(t, "INVALID_DUE_DATE", apperr.As(err).Code, in)
	}
}

func TestParseListQuery(t *testing.T) {
	i := func(n int64) *int64 { return &n }
	s := func(v string) *string { return &v }
	spec := func(page, limit int64, status, sort string) tasksapi.ListTasksParams { // as the validator fills it
		st, so := tasksapi.ListTasksParamsStatus(status), tasksapi.ListTasksParamsSort(sort)
		return tasksapi.ListTasksParams{Page: i(page), Limit: i(limit), Status: &st, Sort: &so}
	}
	lq, err := parseListQuery(spec(1, 20, "all", "-created_at"))
	require.NoError(t, err)
	assert.Equal(t, int64(1), lq.page)
	assert.Equal(t, int64(20), lq.limit)
	assert.Nil(t, lq.completed)
	assert.Nil(t, lq.pattern)

	p := spec(3, 1000, "pending", "-title")
	high := tasksapi.High
	p.Q, p.Priority, p.Tag = s("  50% off "), &high, s(" work ")
	lq, err = parseListQuery(p)
	require.NoError(t, err)
	assert.Equal(t, int64(100), lq.limit)
	assert.Equal(t, int32(200), lq.offset())
	assert.Equal(t, `%50\% off%`, *lq.pattern)
	assert.False(t, *lq.completed)
	assert.Equal(t, "work", lq.tag)

	for _, page := range []int64{1 << 40, 461168601842738792, 1<<63 - 1, 21474838} {
		huge, err := parseListQuery(spec(page, 100, "all", "title"))
		require.NoError(t, err)
		assert.Equal(t, int32(1<<31-1), huge.offset(), "page %d: no overflow, past everything", page)
	}
	exact, err := parseListQuery(spec(21474836, 100, "all", "title"))
	require.NoError(t, err)
	assert.Equal(t, int32(2147483500), exact.offset())

	for code, p := range map[string]tasksapi.ListTasksParams{
		"INVALID_PAGINATION": spec(0, 20, "all", "title"),
		"INVALID_STATUS":     spec(1, 20, "", "title"),
		"INVALID_SORT_FIELD": spec(1, 20, "all", "-"),
	} {
		_, err := parseListQuery(p)
		assert.Equal(t, code, apperr.As(err).Code)
	}
	_, err = parseListQuery(tasksapi.ListTasksParams{})
	assert.ErrorIs(t, err, errNoDefault, "defaults come from the spec, through the validator")
}

// The seeds run with every `go test`; `go test -fuzz FuzzParseDueDate ./internal/api` explores.
func FuzzParseDueDate(f *testing.F) {
	for _, s := range []string{"2026-12-01T17:00:00Z", "2026-12-01T17:00:00.5+01:00", "2026-12-01T17:00", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDueDate(s)
		if err != nil {
			assert.Equal(t, "INVALID_DUE_DATE", apperr.As(err).Code)
			return
		}
		assert.Equal(t, time.UTC, got.Location())
		again, err := parseDueDate(got.Format(time.RFC3339Nano))
		require.NoError(t, err, "what we return parses again")
		assert.True(t, got.Equal(again))
	})
}

package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/apperr"
)

func TestCursors(t *testing.T) {
	for _, s := range []string{"0", "7", "123456", "123.task.45", "9.tag.1"} {
		c, err := parseCursor(s, "since")
		require.NoError(t, err, s)
		assert.Equal(t, s, c.String())
	}
	for _, s := range []string{"", "x", "-1", "007", "1.2", "1.task", "1.task.0", "1.user.3", "1.task.3.4", "1.task.-3", " 1"} {
		_, err := parseCursor(s, "since")
		assert.Equal(t, apperr.InvalidCursor.Code, apperr.As(err).Code, s)
	}
	assert.Equal(t, cursor{}, after(0), "no change yet: the start of the feed")
	assert.Equal(t, "8", after(7).String(), "past every change of transaction 7")
}

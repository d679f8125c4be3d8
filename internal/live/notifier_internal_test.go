package live

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
)

// Many users split into notifications under PostgreSQL's payload limit, each
// user in exactly one.
func TestPayloadsStayUnderTheLimit(t *testing.T) {
	users := map[uuid.UUID]struct{}{}
	for range 1000 {
		users[uuid.New()] = struct{}{}
	}
	seen := map[string]int{}
	payloads := payloadsOf(users)
	assert.Greater(t, len(payloads), 1)
	for _, p := range payloads {
		assert.LessOrEqual(t, len(p), maxPayloadBytes)
		for _, id := range strings.Split(p, ",") {
			seen[id]++
		}
	}
	assert.Len(t, seen, len(users))
	for u := range users {
		assert.Equal(t, 1, seen[u.String()], u)
	}
	one := uuid.New()
	assert.Equal(t, []string{one.String()}, payloadsOf(map[uuid.UUID]struct{}{one: {}}))
}

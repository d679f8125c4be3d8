// Package migrations embeds the schema migrations (golang-migrate format) so
// the binary and the tests apply exactly the files sqlc generated code from.
package migrations

import "embed"

// FS holds every *.up.sql and *.down.sql migration in this directory.
//
//go:embed *.sql
var FS embed.FS

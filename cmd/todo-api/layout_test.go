package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/todoapp/todo-api"

// TestImportDirection checks the layout's import rules on every package,
// generated ones included (golangci-lint's depguard, which checks the same
// for hand-written code, skips generated files): gen/ imports nothing
// hand-written; auth and store import no HTTP; only cmd imports config.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	require.NoError(t, err)
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := strings.TrimPrefix(fields[0], module+"/"), fields[1:]
		pkgs++
		for _, imp := range imports {
			switch {
			case strings.HasPrefix(pkg, "gen/"):
				assert.False(t, strings.HasPrefix(imp, module+"/internal"), "%s imports %s: generated code imports nothing hand-written", pkg, imp)
			case pkg == "internal/auth" || pkg == "internal/store":
				assert.False(t, imp == "net/http" || strings.HasPrefix(imp, "github.com/labstack/echo"), "%s imports %s: no HTTP below the handlers", pkg, imp)
			case pkg == "internal/live":
				assert.False(t, imp == module+"/internal/api" || imp == module+"/internal/httpx" || strings.HasPrefix(imp, "github.com/labstack/echo"),
					"%s imports %s: the runtime sits below the handlers and the router", pkg, imp)
			}
			if imp == module+"/internal/config" {
				assert.True(t, strings.HasPrefix(pkg, "cmd/"), "%s imports config: only cmd reads the configuration", pkg)
			}
		}
	}
	assert.Greater(t, pkgs, 10, "go list saw the module's packages")
}

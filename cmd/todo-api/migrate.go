package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/todoapp/todo-api/internal/config"
	"github.com/todoapp/todo-api/internal/store"
)

func migrateCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	steps := 0
	switch {
	case args[0] == "down" && len(args) == 1:
		steps = 1
	case args[0] == "down" && len(args) == 2 && args[1] == "all":
		steps = -1
	case args[0] == "down" && len(args) == 2:
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return fmt.Errorf("migrate down: N must be a positive integer or \"all\", got %q", args[1])
		}
		steps = n
	case (args[0] == "up" || args[0] == "version") && len(args) == 1:
	default:
		return errUsage
	}

	url, err := config.DatabaseURL()
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	m, err := store.NewMigrator(url)
	if err != nil {
		return err
	}
	defer m.Close()

	switch args[0] {
	case "up":
		err = m.Up()
	case "down":
		err = m.Down(steps)
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", args[0], err)
	}
	v, dirty, err := m.Version()
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	latest, _ := store.LatestVersion()
	fmt.Fprintf(stdout, "schema version %d (latest %d)%s\n", v, latest, map[bool]string{true: ", DIRTY: fix the failed migration by hand, then force the version", false: ""}[dirty])
	return nil
}

// Command todo-api is the Todo API server and its operator commands.
//
//	todo-api serve                    run the HTTP server
//	todo-api migrate up               apply all pending migrations
//	todo-api migrate down [N|all]     roll back N migrations (default 1)
//	todo-api migrate version          print the applied migration version
//	todo-api healthcheck [-ready]     exit 0 when the local server is healthy
//	todo-api mcp                      the MCP tools over stdio, for a local AI agent
//
// Configuration comes from the environment; see the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: todo-api <command>

commands:
  serve                   run the HTTP server
  migrate up              apply all pending migrations
  migrate down [N|all]    roll back N migrations (default 1), or all of them
  migrate version         print the applied migration version
  healthcheck [-ready]    check the local server (/healthz, or /readyz with -ready)
  mcp                     the MCP tools over stdio for a local AI agent, calling the server at
                          TODO_API_URL as TODO_EMAIL with TODO_PASSWORD
`

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "todo-api:", err)
		os.Exit(1)
	}
}

// run executes one command. It returns when the command is done or, for
// serve, when ctx is cancelled and in-flight requests have drained.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, stdout, nil)
	case "migrate":
		return migrateCmd(args[1:], stdout)
	case "healthcheck":
		return healthcheck(ctx, args[1:], stdout)
	case "mcp":
		return mcpStdio(ctx)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "todo-api: unknown command %q\n", args[0])
	return errUsage
}

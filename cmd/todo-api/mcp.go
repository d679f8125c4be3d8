package main

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/todoapp/todo-api/internal/mcpapi"
	"github.com/todoapp/todo-api/openapi"
)

// mcpStdio serves the MCP tools over stdin and stdout, each call sent to
// the server at TODO_API_URL as the user TODO_EMAIL (a local agent's way
// in: Claude Desktop, an IDE). Nothing but the protocol goes to stdout.
func mcpStdio(ctx context.Context) error {
	remote, err := mcpapi.NewRemote(os.Getenv("TODO_API_URL"), os.Getenv("TODO_EMAIL"), os.Getenv("TODO_PASSWORD"),
		&http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	version := "dev"
	if spec, err := openapi.Tasks.Parsed(); err == nil && spec.Info != nil {
		version = spec.Info.Version
	}
	return mcpapi.NewServer(remote, version).Run(ctx, &mcp.StdioTransport{})
}

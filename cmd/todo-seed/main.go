// Command todo-seed fills the database at DATABASE_URL (migrated already)
// with one heavy user, for load tests and query plans:
//
//	todo-seed -email heavy@example.com -password heavy-password -tasks 100000 -tags 50
//
// It is a development tool; the service never runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/todoapp/todo-api/internal/config"
	"github.com/todoapp/todo-api/internal/seed"
	"github.com/todoapp/todo-api/internal/store"
)

func main() {
	var o seed.Options
	flag.StringVar(&o.Email, "email", "heavy@example.com", "the heavy user's email")
	flag.StringVar(&o.Password, "password", "heavy-password", "the heavy user's password")
	flag.IntVar(&o.Tasks, "tasks", 100_000, "how many tasks")
	flag.IntVar(&o.Tags, "tags", 50, "how many tags")
	flag.Uint64Var(&o.Seed, "seed", 1, "random seed: the same seed makes the same data")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "todo-seed:", err)
		os.Exit(1)
	}
}

func run(o seed.Options) error {
	url, err := config.DatabaseURL()
	if err != nil {
		return err
	}
	ctx := context.Background()
	pool, err := store.NewPool(ctx, url, store.PoolOptions{MinConns: 0, MaxConns: 2, MaxConnLifetime: time.Hour, ConnectTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer pool.Close()
	start := time.Now()
	uid, err := seed.HeavyUser(ctx, pool, o)
	if err != nil {
		return err
	}
	fmt.Printf("seeded %s (%s): %d tasks, %d tags in %s\n", o.Email, uid, o.Tasks, o.Tags, time.Since(start).Round(time.Millisecond))
	return nil
}

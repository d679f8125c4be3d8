package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/todoapp/todo-api/db/migrations"
)

// Migrator applies the embedded migrations to one database, and River's
// (the job queue of webhook deliveries: internal/events).
type Migrator struct {
	m   *migrate.Migrate
	url string
}

// NewMigrator opens databaseURL (postgres:// or postgresql://) for migrating.
// Close it when done.
func NewMigrator(databaseURL string) (*Migrator, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, pgx5URL(databaseURL))
	if err != nil {
		return nil, fmt.Errorf("migrations: connect: %w", redactErr(err))
	}
	return &Migrator{m: m, url: databaseURL}, nil
}

// pgx5URL rewrites a postgres:// URL to the scheme golang-migrate's pgx/v5
// driver registers.
func pgx5URL(u string) string {
	for _, p := range []string{"postgresql://", "postgres://"} {
		if strings.HasPrefix(u, p) {
			return "pgx5://" + strings.TrimPrefix(u, p)
		}
	}
	return u
}

// redactErr drops errors whose text may quote the connection URL.
func redactErr(err error) error {
	if strings.Contains(err.Error(), "://") {
		return errors.New("cannot connect to the database (check DATABASE_URL)")
	}
	return err
}

// Up applies all pending migrations, ours and then River's. It is not an
// error when there are none.
func (m *Migrator) Up() error {
	if err := ignoreNoChange(m.m.Up()); err != nil {
		return err
	}
	return m.riverUp()
}

// RiverVersion is the latest of River's migrations this binary applies.
func RiverVersion() (int, error) {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return 0, err
	}
	all := m.AllVersions()
	if len(all) == 0 {
		return 0, nil
	}
	return all[len(all)-1].Version, nil
}

// riverUp applies River's own migrations (rivermigrate), which keep their
// version in their own table; `migrate down` leaves them.
func (m *Migrator) riverUp() error {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, m.url)
	if err != nil {
		return errors.New("migrations: cannot connect to the database for River's tables (check DATABASE_URL)")
	}
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("migrations: river: %w", err)
	}
	// each of River's versions in a transaction of its own (one adds an
	// enum value that the next uses)
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrations: river: %w", redactErr(err))
	}
	return nil
}

// To migrates up or down to the given version.
func (m *Migrator) To(version uint) error { return ignoreNoChange(m.m.Migrate(version)) }

// Down rolls back n migrations, or all of them when n <= 0.
func (m *Migrator) Down(n int) error {
	if n <= 0 {
		return ignoreNoChange(m.m.Down())
	}
	return ignoreNoChange(m.m.Steps(-n))
}

// Version returns the applied version (0 when none) and whether the last
// migration failed half-way (dirty).
func (m *Migrator) Version() (version uint, dirty bool, err error) {
	v, d, err := m.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	return v, d, err
}

// Close releases the migrator's connection.
func (m *Migrator) Close() error {
	srcErr, dbErr := m.m.Close()
	return errors.Join(srcErr, dbErr)
}

func ignoreNoChange(err error) error {
	if errors.Is(err, migrate.ErrNoChange) {
		return nil
	}
	return err
}

// LatestVersion is the newest migration version this binary ships.
func LatestVersion() (uint, error) {
	entries, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		return 0, err
	}
	var latest uint
	for _, e := range entries {
		var v uint
		if _, err := fmt.Sscanf(e, "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest, nil
}

// SchemaVersion returns the migration version recorded in the database (0
// when no migration has run) and whether it is dirty.
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (version uint, dirty bool, err error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, false, err
	}
	if !exists {
		return 0, false, nil
	}
	var v int64
	err = pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return uint(v), dirty, err
}

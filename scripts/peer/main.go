// Command pocketbase is PocketBase v0.39.11, the peer the performance
// figures are compared with in the same sitting (scripts/peer.sh, make
// peer), with one command of ours: `seed` creates the same data as
// todo-api's heavy user (internal/seed): a user, 50 tags, 100,000 tasks
// with the same spread of titles, descriptions, states, priorities, due
// dates and 0 to 3 tags each, in collections with the same fields and an
// index per list order, as a PocketBase user would set them up.
//
// It is a module of its own, so PocketBase's dependencies stay out of
// todo-api's go.mod.
package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

var words = strings.Fields(`buy milk bread eggs call mom dentist book flight hotel pay rent bill taxes
file report review pull request deploy release fix bug sink car oil tyres clean kitchen garage garden
water plants walk dog cat vet renew passport licence insurance email boss client invoice quarterly
numbers budget plan meeting agenda notes slides draft proposal contract sign send package pick up
laundry dry cleaning groceries recipe dinner lunch party gift birthday anniversary wedding card
write letter read book chapter study exam course homework project deadline update website backup
photos phone charger battery replace light bulb paint fence repair roof gutter schedule appointment
doctor pharmacy prescription gym run yoga swim bike ride train ticket concert museum visit grandma
organise closet donate clothes sell old furniture move boxes label storage cancel subscription
refund order track delivery return shoes jacket winter summer holiday trip packing list camera`)

func main() {
	app := pocketbase.New()
	var tasks, tags int
	seed := &cobra.Command{
		Use:   "seed",
		Short: "create the heavy user's collections and data",
		RunE: func(*cobra.Command, []string) error {
			if err := app.Bootstrap(); err != nil {
				return err
			}
			return seedData(app, tasks, tags)
		},
	}
	seed.Flags().IntVar(&tasks, "tasks", 100_000, "tasks")
	seed.Flags().IntVar(&tags, "tags", 50, "tags")
	unload := &cobra.Command{
		Use:   "unload",
		Short: "delete the tasks the load's creates made (titled 'load test task'), so every run starts from the seeded data",
		RunE: func(*cobra.Command, []string) error {
			if err := app.Bootstrap(); err != nil {
				return err
			}
			_, err := app.DB().NewQuery(`DELETE FROM tasks WHERE title = 'load test task'`).Execute()
			return err
		},
	}
	app.RootCmd.AddCommand(seed, unload)
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

func phrase(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[r.IntN(len(words))]
	}
	return strings.Join(w, " ")
}

func seedData(app core.App, nTasks, nTags int) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	owner := "user = @request.auth.id"
	create := `@request.auth.id != "" && @request.body.user = @request.auth.id`
	rules := func(c *core.Collection) {
		c.ListRule, c.ViewRule, c.UpdateRule, c.DeleteRule, c.CreateRule = &owner, &owner, &owner, &owner, &create
	}
	tagsC := core.NewBaseCollection("tags")
	tagsC.Fields.Add(
		&core.TextField{Name: "name", Required: true, Max: 50},
		&core.TextField{Name: "color", Max: 7},
		&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	tagsC.AddIndex("idx_tags_user_name", true, "user, name", "")
	rules(tagsC)
	if err := app.Save(tagsC); err != nil {
		return fmt.Errorf("tags collection: %w", err)
	}
	tasksC := core.NewBaseCollection("tasks")
	tasksC.Fields.Add(
		&core.TextField{Name: "title", Required: true, Max: 200},
		&core.TextField{Name: "description", Max: 1000},
		&core.BoolField{Name: "completed"},
		&core.SelectField{Name: "priority", Values: []string{"low", "medium", "high"}, MaxSelect: 1},
		&core.DateField{Name: "due_date"},
		&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
		&core.RelationField{Name: "tags", CollectionId: tagsC.Id, MaxSelect: 50},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	// an index per list order, as todo-api has (db/migrations/000001_init)
	// (each ending in id, the lists' tie-break, as todo-api's do)
	tasksC.AddIndex("idx_tasks_user_created", false, "user, created, id", "")
	tasksC.AddIndex("idx_tasks_user_completed_due", false, "user, completed, due_date, id", "")
	tasksC.AddIndex("idx_tasks_user_due", false, "user, due_date, id", "")
	tasksC.AddIndex("idx_tasks_user_priority", false, "user, priority, id", "")
	tasksC.AddIndex("idx_tasks_user_title", false, "user, title, id", "")
	rules(tasksC)
	if err := app.Save(tasksC); err != nil {
		return fmt.Errorf("tasks collection: %w", err)
	}

	user := core.NewRecord(users)
	user.SetEmail("heavy@example.com")
	user.SetPassword("heavy-password")
	user.SetVerified(true)
	if err := app.Save(user); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	r := rand.New(rand.NewPCG(1, 1^0x9e3779b97f4a7c15)) //nolint:gosec // test data, reproducible on purpose
	var tagIDs []string
	for i := range nTags {
		t := core.NewRecord(tagsC)
		t.Set("name", fmt.Sprintf("%s-%d", words[i%len(words)], i))
		t.Set("color", fmt.Sprintf("#%06X", r.IntN(1<<24)))
		t.Set("user", user.Id)
		if err := app.Save(t); err != nil {
			return fmt.Errorf("tag: %w", err)
		}
		tagIDs = append(tagIDs, t.Id)
	}
	start := time.Now().Add(-2 * 365 * 24 * time.Hour)
	priorities := []string{"low", "medium", "high"}
	const batch = 2000
	for from := 0; from < nTasks; from += batch {
		err := app.RunInTransaction(func(tx core.App) error {
			for i := from; i < min(from+batch, nTasks); i++ {
				created := start.Add(time.Duration(i) * 2 * 365 * 24 * time.Hour / time.Duration(nTasks))
				t := core.NewRecord(tasksC)
				t.Set("title", phrase(r, 2+r.IntN(5)))
				if r.IntN(2) == 0 {
					t.Set("description", phrase(r, 5+r.IntN(15)))
				}
				t.Set("completed", r.IntN(2) == 0)
				t.Set("priority", priorities[r.IntN(3)])
				if r.IntN(10) < 7 {
					t.Set("due_date", created.Add(time.Duration(r.IntN(60*24))*time.Hour).UTC())
				}
				t.Set("user", user.Id)
				picked := map[string]bool{}
				for range r.IntN(4) {
					picked[tagIDs[r.IntN(len(tagIDs))]] = true
				}
				var ids []string
				for id := range picked {
					ids = append(ids, id)
				}
				t.Set("tags", ids)
				t.Set("created", created.UTC())
				t.Set("updated", created.UTC())
				if err := tx.SaveNoValidate(t); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
	}
	// created and updated spread over two years, as todo-api's seed does
	// (PocketBase's autodate fields stamp the time of the insert)
	step := 2 * 365 * 24 * 3600 / max(nTasks, 1)
	if _, err := app.DB().NewQuery(fmt.Sprintf(`UPDATE tasks SET created = strftime('%%Y-%%m-%%d %%H:%%M:%%fZ', 'now', '-730 days', '+' || (rowid * %d) || ' seconds'), updated = created`, step)).Execute(); err != nil {
		return fmt.Errorf("spread the creation times: %w", err)
	}
	if _, err := app.DB().NewQuery(`UPDATE tasks SET updated = created`).Execute(); err != nil {
		return err
	}
	if _, err := app.DB().NewQuery(`ANALYZE`).Execute(); err != nil {
		return err
	}
	fmt.Printf("seeded: user %s, %d tags (the first: %s), %d tasks\n", user.Id, nTags, tagIDs[0], nTasks)
	return nil
}

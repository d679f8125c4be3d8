// A frontend's use of the published client, type-checked and bundled by
// scripts/client-package.sh in a fresh Vite + TypeScript app that installs
// the package from its tarball (npm pack), as a project outside this
// repository would.
import {
  createTodoClient,
  PreconditionFailed,
  TodoApiError,
  type Change,
  type Tag,
  type Task,
} from "@todo-api/client";

const client = createTodoClient({ baseUrl: "/api/v1" });
const tasks = new Map<number, Task>();
const tags = new Map<number, Tag>();

function apply(change: Change): void {
  const store = change.entity === "task" ? tasks : tags;
  if (change.op === "delete" || change.data === null) {
    store.delete(change.id);
  } else if (change.entity === "task") {
    tasks.set(change.id, change.data as Task);
  } else {
    tags.set(change.id, change.data as Tag);
  }
}

export async function start(email: string, password: string): Promise<() => void> {
  await client.login(email, password);
  // Take the cursor, list everything, then follow the changes since.
  const { cursor } = await client.changes();
  const list = await client.api.GET("/tasks", { params: { query: { limit: 100, sort: "-created_at" } } });
  for (const t of list.data?.items ?? []) tasks.set(t.id, t);
  const subscription = client.subscribe(apply, {
    since: cursor,
    onError: (e) => console.warn(`stream stopped: ${e.code}`),
  });

  const { data: created, replayed } = await client.createTask({ title: "From a Vite app", priority: "high" });
  console.log(replayed ? "created earlier" : "created", created.id, created.version);
  try {
    const done = await client.updateTask(created.id, { completed: true }, { ifVersion: created.version });
    console.log("now at version", done.version);
  } catch (e) {
    if (e instanceof PreconditionFailed) {
      console.log("changed elsewhere; the server has version", e.currentVersion);
    } else if (e instanceof TodoApiError) {
      console.log(e.status, e.code);
    } else {
      throw e;
    }
  }
  return () => subscription.close();
}

document.querySelector<HTMLButtonElement>("#start")?.addEventListener("click", () => {
  void start("me@example.com", "correct-horse-battery");
});

// The client end-to-end flow, run in a browser page served from another
// origin than the API (as a dev frontend on :5173 is). It writes its outcome
// to window.__e2e for the runner to read.
import { createTodoClient, TodoApiError, type Task } from "../src/index.ts";

type Step = { name: string; ok: boolean; detail?: string };
declare global {
  interface Window {
    __e2e?: { done: boolean; steps: Step[] };
  }
}

const steps: Step[] = [];
window.__e2e = { done: false, steps };

function check(name: string, cond: boolean, detail?: unknown): void {
  steps.push({ name, ok: cond, detail: detail === undefined ? undefined : JSON.stringify(detail) });
  if (!cond) throw new Error(`${name} failed: ${JSON.stringify(detail)}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function flow(apiBase: string, tokenTTLms: number): Promise<void> {
  const client = createTodoClient({ baseUrl: apiBase });
  const email = `e2e-${Date.now()}@example.com`;

  const user = await client.register(email, "correct-horse-battery", "E2E");
  check("register", user.email === email && user.name === "E2E", user);
  const tokens = await client.login(email, "correct-horse-battery");
  check("login", tokens.token_type === "bearer" && tokens.access_token.length > 20);
  check("me", (await client.me()).email === email);

  const tag = await client.api.POST("/tags", { body: { name: "home", color: "#00AA00" } });
  check("create tag", tag.response.status === 201 && tag.data?.name === "home", tag.error);
  const created = await client.api.POST("/tasks", { body: { title: "Water plants", priority: "high" } });
  check("create task", created.response.status === 201 && created.data?.priority === "high", created.error);
  const task = created.data as Task;
  const linked = await client.api.POST("/tasks/{task_id}/tags/{tag_id}", {
    params: { path: { task_id: task.id, tag_id: tag.data!.id } },
  });
  check("tag the task", linked.response.status === 201 && linked.data?.tags.length === 1, linked.error);
  const list = await client.api.GET("/tasks", { params: { query: { tag: "home", status: "pending" } } });
  check("list with filters", list.data?.total === 1 && list.data.items[0]?.id === task.id, list.error);
  const patched = await client.api.PATCH("/tasks/{task_id}", {
    params: { path: { task_id: task.id } },
    body: { completed: true },
  });
  check("patch completed", patched.data?.completed === true && patched.data.title === "Water plants", patched.error);
  const tags = await client.api.GET("/tags");
  check("list tags", tags.data?.length === 1);

  // A recurring task: its preview, then completing it makes the next one.
  const gym = (await client.createTask({ title: "Gym", due_date: "2027-01-04T09:00:00+01:00",
    recurrence: { rule: "FREQ=WEEKLY;BYDAY=MO,TH", timezone: "Europe/Berlin" } })).data;
  const preview = await client.occurrences(gym.id, 2);
  check("preview a recurring task", preview.join() === "2027-01-07T09:00:00+01:00,2027-01-11T09:00:00+01:00", preview);
  const completion = await client.completeTask(gym.id);
  check("complete a recurring task", completion.task.completed && completion.next?.due_date === "2027-01-07T08:00:00Z"
    && completion.next.series_id === gym.id, completion);
  for (const id of [gym.id, completion.next!.id]) {
    await client.deleteTask(id);
  }

  // Reminders: with the task, their times derived from its due date.
  const call = (await client.createTask({ title: "Call mum", due_date: "2027-01-04T18:00:00Z",
    reminders: [{ before: "PT15M" }, { at: "2027-01-04T09:00:00Z" }] })).data;
  check("a task's reminders", call.reminders.length === 2 && call.reminders[0]?.fires_at === "2027-01-04T17:45:00Z"
    && call.reminders[0]?.fired_at === null && call.reminders[1]?.before === null, call.reminders);
  await client.deleteTask(call.id);

  // Webhooks: subscribed (the secret shown once), tested, listed, deleted.
  const hook = await client.createWebhook({ url: "https://hooks.example.com/todo", events: ["task.completed"] });
  check("create a webhook", hook.secret.startsWith("whsec_") && hook.disabled === false, hook);
  const listed = await client.webhooks();
  check("list webhooks without secrets", listed.length === 1 && !("secret" in listed[0]!), listed);
  check("send a test event", (await client.testWebhook(hook.id)).length === 36);
  check("a webhook's deliveries", Array.isArray(await client.webhookDeliveries(hook.id)));
  check("disable a webhook", (await client.updateWebhook(hook.id, { disabled: true })).disabled === true);
  await client.deleteWebhook(hook.id);
  check("delete a webhook", (await client.webhooks()).length === 0);

  // Refresh: the HttpOnly cookie goes cross-origin (CORS with credentials).
  check("refresh with the cookie", await client.refresh());
  check("the new token works", (await client.me()).email === email);

  // Let the access token expire: the client refreshes and retries by itself.
  await sleep(tokenTTLms + 1100);
  const afterExpiry = await client.api.GET("/tasks/{task_id}", { params: { path: { task_id: task.id } } });
  check("retry once after TOKEN_EXPIRED", afterExpiry.response.status === 200 && afterExpiry.data?.completed === true);

  const del = await client.api.DELETE("/tasks/{task_id}", { params: { path: { task_id: task.id } } });
  check("delete task", del.response.status === 204);
  const delTag = await client.api.DELETE("/tags/{tag_id}", { params: { path: { tag_id: tag.data!.id } } });
  check("delete tag", delTag.response.status === 204);
  const empty = await client.api.GET("/tasks");
  check("list is empty", empty.data?.total === 0 && empty.data.items.length === 0);

  await client.logout();
  check("refresh after logout fails", !(await client.refresh()));
  try {
    await client.me();
    check("no access after logout", false);
  } catch (e) {
    check("no access after logout", e instanceof TodoApiError && e.code === "MISSING_TOKEN", String(e));
  }
}

const params = new URLSearchParams(location.search);
flow(params.get("api") ?? "http://localhost:8000/api/v1", Number(params.get("ttl") ?? "3000"))
  .catch((e: unknown) => steps.push({ name: "uncaught", ok: false, detail: String(e) }))
  .finally(() => {
    window.__e2e!.done = true;
    document.body.textContent = steps.map((s) => `${s.ok ? "PASS" : "FAIL"} ${s.name}`).join("\n");
  });

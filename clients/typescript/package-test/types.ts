// Misuses the published types must refuse: each line below fails to
// type-check, so the package's declarations are real, not `any`. (tsc
// reports an unused @ts-expect-error when a line passes.)
import { createTodoClient, type Change } from "@todo-api/client";

const client = createTodoClient({ baseUrl: "/api/v1" });

export async function misuses(): Promise<void> {
  // @ts-expect-error: a task needs a title
  await client.createTask({ priority: "high" });
  // @ts-expect-error: priorities are low, medium or high
  await client.createTask({ title: "x", priority: "urgent" });
  // @ts-expect-error: a version is a number
  await client.updateTask(1, { completed: true }, { ifVersion: '"3"' });
  const change = {} as Change;
  // @ts-expect-error: entities are task or tag
  const entity: "user" = change.entity;
  void entity;
}

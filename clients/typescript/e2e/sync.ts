// One device of a user for the browser test of sync: run.mjs opens two of
// these pages (two browser contexts: two devices, each with its own cookie)
// and drives them through window.sync with page.evaluate. The page keeps a
// copy of the user's tasks from the live events it receives.
import { createTodoClient, PreconditionFailed, TodoApiError, type Change, type Subscription, type Task, type TodoClient } from "../src/index.ts";

type Received = { change: Change; cursor: string; at: number };

declare global {
  interface Window {
    sync?: {
      client: TodoClient;
      received: Received[];
      /** Task id -> version, from the events received. */
      copy: Record<number, number>;
      opens: number;
      errors: string[];
      follow: (since?: string) => void;
      close: () => void;
      lastEventId: () => string | undefined;
      /** Runs f and returns the error code it throws ("PRECONDITION_FAILED <version>" for a 412), or "ok". */
      outcome: (f: (c: TodoClient) => Promise<unknown>) => Promise<string>;
      /** The server's tasks, id -> version. */
      serverTasks: () => Promise<Record<number, number>>;
    };
  }
}

const params = new URLSearchParams(location.search);
const client = createTodoClient({ baseUrl: params.get("api") ?? "http://localhost:8000/api/v1" });
let subscription: Subscription | undefined;
const sync: NonNullable<Window["sync"]> = {
  client,
  received: [],
  copy: {},
  opens: 0,
  errors: [],
  follow(since) {
    subscription = client.subscribe(
      (change, cursor) => {
        sync.received.push({ change, cursor, at: Date.now() });
        if (change.entity !== "task") return;
        if (change.op === "delete") delete sync.copy[change.id];
        else sync.copy[change.id] = (change.data as Task).version;
      },
      { since, onOpen: () => sync.opens++, onError: (e) => sync.errors.push(e.code) },
    );
  },
  close() {
    subscription?.close();
  },
  lastEventId: () => subscription?.lastEventId,
  async outcome(f) {
    try {
      await f(client);
      return "ok";
    } catch (e) {
      if (e instanceof PreconditionFailed) return `PRECONDITION_FAILED ${e.currentVersion}`;
      return e instanceof TodoApiError ? e.code : String(e);
    }
  },
  async serverTasks() {
    const r = await client.api.GET("/tasks", { params: { query: { limit: 100 } } });
    return Object.fromEntries((r.data?.items ?? []).map((t) => [t.id, t.version]));
  },
};
window.sync = sync;
document.body.textContent = "ready";

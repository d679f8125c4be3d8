// The account page's calls, for the browser test to drive from two pages
// (two browser contexts: two devices of one user, each with its own cookie).
// run.mjs calls window.todo's methods through page.evaluate.
import { createTodoClient, TodoApiError, type TodoClient } from "../src/index.ts";

declare global {
  interface Window {
    todo?: {
      client: TodoClient;
      /** Runs f and returns the error code it throws, or "ok". */
      outcome: (f: (c: TodoClient) => Promise<unknown>) => Promise<string>;
    };
  }
}

const params = new URLSearchParams(location.search);
const client = createTodoClient({ baseUrl: params.get("api") ?? "http://localhost:8000/api/v1" });
window.todo = {
  client,
  async outcome(f) {
    try {
      await f(client);
      return "ok";
    } catch (e) {
      return e instanceof TodoApiError ? e.code : String(e);
    }
  },
};
document.body.textContent = "ready";

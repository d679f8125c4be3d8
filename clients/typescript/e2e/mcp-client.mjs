// An outside MCP client, as Claude Desktop or an IDE agent would be: the
// TypeScript SDK (@modelcontextprotocol/sdk, pinned in package-lock.json)
// over Streamable HTTP against the real server (scripts/e2e.sh starts it):
// it lists the tools and calls add_task, list_tasks and complete_task.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const api = process.env.API_URL ?? "http://localhost:8000";
let failures = 0;
const check = (name, ok, detail) => {
  if (ok) console.log(`PASS mcp: ${name}`);
  else { failures++; console.log(`FAIL mcp: ${name}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`); }
};

const email = `mcp-${Date.now()}@example.com`;
await fetch(`${api}/api/v1/auth/register`, {
  method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ email, password: "correct-horse-battery" }),
});
const login = await fetch(`${api}/api/v1/auth/login`, {
  method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ username: email, password: "correct-horse-battery" }),
});
const { access_token: token } = await login.json();

const unauthenticated = new Client({ name: "todo-e2e", version: "1.0.0" });
try {
  await unauthenticated.connect(new StreamableHTTPClientTransport(new URL(`${api}/mcp`)));
  check("no token is refused", false);
} catch (e) {
  check("no token is refused", String(e).includes("MISSING_TOKEN"), String(e));
}

const client = new Client({ name: "todo-e2e", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(`${api}/mcp`), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
}));
const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
check("lists the tools", ["add_task", "list_tasks", "complete_task"].every((n) => names.includes(n)) && names.length <= 15, names);

const added = await client.callTool({ name: "add_task", arguments: {
  title: "Water the plants", due_date: "2027-01-04T18:00:00Z", recurrence: { rule: "FREQ=DAILY;INTERVAL=3" },
} });
const task = added.structuredContent;
check("add_task", !added.isError && task?.title === "Water the plants" && task.recurrence?.rule === "FREQ=DAILY;INTERVAL=3", added);

const listed = await client.callTool({ name: "list_tasks", arguments: { status: "pending", q: "plants" } });
check("list_tasks", !listed.isError && listed.structuredContent?.total === 1 && listed.structuredContent.items[0].id === task.id, listed);

const done = await client.callTool({ name: "complete_task", arguments: { task_id: task.id } });
check("complete_task", !done.isError && done.structuredContent?.task.completed === true
  && done.structuredContent.next?.due_date === "2027-01-07T18:00:00Z", done);

const refused = await client.callTool({ name: "add_task", arguments: { title: "" } });
const error = refused.isError ? JSON.parse(refused.content[0].text) : {};
check("a contract error is a tool error", error.code === "INVALID_TITLE" && error.field === "title", refused);

await client.close();
if (failures > 0) {
  console.log(`mcp e2e FAILED: ${failures} failure(s)`);
  process.exit(1);
}

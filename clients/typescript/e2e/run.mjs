// Browser tests against a running server (scripts/e2e.sh starts one):
//   1. Swagger UI at /docs lists every operation, and register and login
//      work through its "Try it out".
//   2. ReDoc at /redoc renders the merged document, with nothing from a CDN.
//   4. Two devices of one user (two browser contexts) through the account
//      calls: a password change, logout everywhere, account deletion.
//   3. A page served from another origin (http://localhost:5173) drives the
//      generated client through the whole flow.
//   5. Two devices of one user in sync: one creates, edits and deletes, the
//      other sees each within a second through subscribe, gets 412 for a
//      stale edit, and catches up with everything after being offline.
// Headless Debian Chromium, driven by playwright-core. Screenshots go to
// e2e/out/ (not in git).
import { build } from "esbuild";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const api = process.env.API_URL ?? "http://localhost:8000";
const clientApi = process.env.CLIENT_API_URL ?? api;
const ttlMs = Number(process.env.ACCESS_TOKEN_TTL_MS ?? "3000");
const out = new URL("./out/", import.meta.url).pathname;
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failures = 0;
const fail = (msg) => { failures++; console.log(`FAIL ${msg}`); };
const pass = (msg) => console.log(`PASS ${msg}`);

async function swaggerUI() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${api}/docs`);
  await page.waitForSelector(".opblock", { timeout: 20000 });
  const ops = await page.$$eval(".opblock-summary-operation-id, .opblock .opblock-summary-path", (els) => els.length);
  const ids = await page.$$eval(".opblock", (els) => els.map((e) => e.id));
  const accountOps = ["updateCurrentUser", "listSessions", "revokeAllSessions", "revokeSession", "changePassword", "deleteAccount"];
  const expected = ["registerUser", "loginUser", "refreshToken", "getCurrentUser", "logoutUser", ...accountOps, "createTask",
    "listTasks", "getTask", "replaceTask", "updateTask", "deleteTask", "completeTask", "getOccurrences", "addTagToTask", "removeTagFromTask", "createTag",
    "listTags", "updateTag", "deleteTag", "listChanges", "streamEvents",
    "createWebhook", "listWebhooks", "getWebhook", "updateWebhook", "deleteWebhook", "testWebhook", "listWebhookDeliveries"];
  const missing = expected.filter((id) => !ids.some((x) => x.endsWith(`-${id}`)));
  missing.length === 0 && ids.length === expected.length
    ? pass(`docs: all ${expected.length} operations listed`)
    : fail(`docs: listed ${ids.length} operations (${ops} summaries); missing ${missing.join(", ")}`);
  const unlocked = [];
  for (const id of accountOps) {
    if ((await page.locator(`[id$="-${id}"] .authorization__btn`).count()) === 0) unlocked.push(id);
  }
  unlocked.length === 0 ? pass("docs: the account operations show the lock") : fail(`docs: no lock on ${unlocked.join(", ")}`);
  await page.screenshot({ path: `${out}docs.png`, fullPage: false });

  // Register through "Try it out".
  const email = `swagger-${Date.now()}@example.com`;
  const reg = page.locator(`[id$="-registerUser"]`);
  await reg.locator(".opblock-summary").click();
  await reg.locator(".try-out__btn").click();
  await reg.locator("textarea.body-param__text").fill(JSON.stringify({ email, password: "correct-horse-battery", name: "Swagger" }));
  await reg.locator(".execute").click();
  const regStatus = await reg.locator(".live-responses-table tbody .response-col_status").first().textContent({ timeout: 10000 });
  regStatus?.trim() === "201" ? pass("docs: register via Try it out -> 201") : fail(`docs: register answered ${regStatus}`);

  // Log in through the form body.
  const login = page.locator(`[id$="-loginUser"]`);
  await login.locator(".opblock-summary").click();
  await login.locator(".try-out__btn").click();
  await login.locator(`tr[data-property-name="username"] input`).fill(email);
  await login.locator(`tr[data-property-name="password"] input`).fill("correct-horse-battery");
  await login.locator(".execute").click();
  const loginStatus = await login.locator(".live-responses-table tbody .response-col_status").first().textContent({ timeout: 10000 });
  const loginBody = await login.locator(".live-responses-table tbody .response-col_description pre").first().textContent();
  loginStatus?.trim() === "200" && loginBody?.includes("access_token")
    ? pass("docs: login via Try it out (form body) -> 200 with an access token")
    : fail(`docs: login answered ${loginStatus}: ${loginBody}`);

  // The token was put into the Authorize dialog: /auth/me works right away.
  const me = page.locator(`[id$="-getCurrentUser"]`);
  await me.locator(".opblock-summary").click();
  await me.locator(".try-out__btn").click();
  await me.locator(".execute").click();
  const meStatus = await me.locator(".live-responses-table tbody .response-col_status").first().textContent({ timeout: 10000 });
  meStatus?.trim() === "200" ? pass("docs: /auth/me with the token from login -> 200") : fail(`docs: /auth/me answered ${meStatus}`);

  // A tasks route with the same token, then a refresh with the cookie.
  for (const [op, what, want] of [["createTask", "POST /tasks", "201"], ["listTasks", "GET /tasks", "200"], ["refreshToken", "POST /auth/refresh (the cookie)", "200"]]) {
    const block = page.locator(`[id$="-${op}"]`);
    await block.locator(".opblock-summary").click();
    await block.locator(".try-out__btn").click();
    if (op === "createTask") {
      await block.locator("textarea.body-param__text").fill(JSON.stringify({ title: "From Swagger UI" }));
    }
    await block.locator(".execute").click();
    const status = await block.locator(".live-responses-table tbody .response-col_status").first().textContent({ timeout: 10000 });
    status?.trim() === want ? pass(`docs: ${what} via Try it out -> ${want}`) : fail(`docs: ${what} answered ${status}`);
  }
  await page.screenshot({ path: `${out}docs-after-login.png`, fullPage: true });
  errors.length === 0 ? pass("docs: no page errors") : fail(`docs: page errors: ${errors.join("; ")}`);
  await page.close();
}

async function redoc() {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  const offsite = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("response", (r) => { if (!r.url().startsWith(api) && !r.url().startsWith("data:")) offsite.push(r.url()); });
  await page.goto(`${api}/redoc`);
  await page.waitForSelector("[data-section-id]", { timeout: 30000 });
  const paths = ["/auth/register", "/auth/login", "/auth/refresh", "/auth/me", "/auth/logout", "/tasks", "/tasks/{task_id}",
    "/tasks/{task_id}/tags/{tag_id}", "/tags", "/tags/{tag_id}", "/changes", "/events"];
  // A tag's operation list shows its first eight, the rest behind "Show N more" (rendered in
  // steps too: wait for the Authentication tag's, which has eleven).
  const more = page.getByText(/^Show \d+ more/);
  await more.first().waitFor({ state: "visible", timeout: 30000 });
  for (let i = 0; i < 10 && (await more.count()) > 0; i++) await more.first().click();
  const missing = [];
  for (const p of paths) { // locators see into ReDoc's shadow DOM; textContent does not
    try {
      await page.getByText(p).first().waitFor({ state: "attached", timeout: 15000 }); // ReDoc renders in steps
    } catch {
      missing.push(p);
    }
  }
  missing.length === 0 ? pass(`redoc: renders the merged document (${paths.length} paths)`) : fail(`redoc: missing ${missing.join(", ")}`);
  // Its attribution logo and telemetry would come from redocly.com: the
  // page's Content-Security-Policy keeps it to this server.
  offsite.length === 0 ? pass("redoc: loads nothing from another host") : fail(`redoc: loaded ${offsite.join(", ")}`);
  await page.screenshot({ path: `${out}redoc.png` });
  errors.length === 0 ? pass("redoc: no page errors") : fail(`redoc: page errors: ${errors.join("; ")}`);
  await page.close();
}

// bundle compiles an e2e entry point (with the client) for the browser.
async function bundle(name) {
  const b = await build({ entryPoints: [new URL(`./${name}.ts`, import.meta.url).pathname], bundle: true, write: false, format: "esm", target: "es2022" });
  return b.outputFiles[0].text;
}

// frontend serves the e2e pages from http://localhost:5173, another origin
// than the API's, as a development frontend is: /?… runs page.ts, and
// /accounts.html?… loads accounts.ts.
async function frontend() {
  const scripts = { "/page.js": await bundle("page"), "/accounts.js": await bundle("accounts"), "/sync.js": await bundle("sync") };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (scripts[path]) { res.writeHead(200, { "Content-Type": "text/javascript" }); res.end(scripts[path]); return; }
    const script = { "/accounts.html": "/accounts.js", "/sync.html": "/sync.js" }[path] ?? "/page.js";
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<!doctype html><meta charset="utf-8"><title>client e2e</title><pre id="out">running</pre><script type="module" src="${script}"></script>`);
  });
  await new Promise((r) => server.listen(5173, "127.0.0.1", r));
  return server;
}

// openDevices opens one page of the frontend's html per name, each in a
// browser context of its own (its own cookies: a device), against the API at
// apiBase, and waits until the page has set window[global].
async function openDevices(names, html, apiBase, global) {
  const devices = [];
  for (const name of names) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://localhost:5173/${html}?api=${encodeURIComponent(`${apiBase}/api/v1`)}`);
    await page.waitForFunction((g) => window[g] !== undefined, global);
    devices.push({ name, context, page, errors });
  }
  return devices;
}

// accounts: two devices of one user (two browser contexts, each its own
// cookie jar) through the account calls of the client.
async function accounts() {
  const devices = await openDevices(["first", "second"], "accounts.html", api, "todo");
  const [one, two] = devices;
  // expect runs f(arg) in the device's page, where f returns the outcome of a
  // client call: "ok" or the error code it threw.
  const expect = async (what, device, f, want, arg) => {
    const got = await device.page.evaluate(f, arg);
    got === want ? pass(`accounts: ${what} -> ${want}`) : fail(`accounts: ${what} answered ${got}, wanted ${want}`);
  };
  // eventually401 polls a device's /auth/me until it is refused (at most 2 s).
  const eventually401 = async (what, device) => {
    for (let i = 0; i < 100; i++) {
      if ((await device.page.evaluate(() => window.todo.outcome((c) => c.me()))) === "INVALID_TOKEN") {
        pass(`accounts: ${what} -> INVALID_TOKEN`);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    fail(`accounts: ${what}: still accepted after 2 s`);
  };

  const email = `devices-${Date.now()}@example.com`;
  await expect("register", one, (e) => window.todo.outcome((c) => c.register(e, "correct-horse-battery")), "ok", email);
  await expect("first page logs in", one, (e) => window.todo.outcome((c) => c.login(e, "correct-horse-battery")), "ok", email);
  await expect("second page logs in", two, (e) => window.todo.outcome((c) => c.login(e, "correct-horse-battery")), "ok", email);
  const sessions = await one.page.evaluate(() => window.todo.client.sessions());
  sessions.length === 2 && sessions.filter((s) => s.current).length === 1 && sessions.every((s) => s.user_agent?.includes("Chrome"))
    ? pass("accounts: two sessions listed, one current, with their browser")
    : fail(`accounts: sessions ${JSON.stringify(sessions)}`);
  await expect("rename", one, () => window.todo.outcome((c) => c.updateMe("Two Devices")), "ok");

  await expect("first page changes the password", one, () => window.todo.outcome((c) => c.changePassword("correct-horse-battery", "staple-battery-horse")), "ok");
  await eventually401("the second page's next call", two);
  const refreshed = await two.page.evaluate(() => window.todo.client.refresh());
  refreshed === false ? pass("accounts: the second page's refresh fails") : fail("accounts: the second page could still refresh");
  await expect("the first page goes on", one, () => window.todo.outcome((c) => c.me()), "ok");

  await expect("second page logs in with the new password", two, (e) => window.todo.outcome((c) => c.login(e, "staple-battery-horse")), "ok", email);
  await expect("first page logs out everywhere", one, () => window.todo.outcome((c) => c.logoutEverywhere()), "ok");
  await eventually401("the second page after logout everywhere", two);
  const again = await two.page.evaluate(() => window.todo.client.refresh());
  again === false ? pass("accounts: no refresh after logout everywhere") : fail("accounts: refreshed after logout everywhere");

  await expect("log in again", one, (e) => window.todo.outcome((c) => c.login(e, "staple-battery-horse")), "ok", email);
  await expect("delete the account with a wrong password", one, () => window.todo.outcome((c) => c.deleteAccount("wrong-password")), "INVALID_CURRENT_PASSWORD");
  await expect("delete the account", one, () => window.todo.outcome((c) => c.deleteAccount("staple-battery-horse")), "ok");
  await expect("the deleted account cannot log in", two, (e) => window.todo.outcome((c) => c.login(e, "staple-battery-horse")), "INVALID_CREDENTIALS", email);
  await expect("its email registers again", two, (e) => window.todo.outcome((c) => c.register(e, "correct-horse-battery")), "ok", email);

  for (const d of devices) {
    d.errors.length === 0 ? pass(`accounts: no page errors on the ${d.name} page`) : fail(`accounts: page errors: ${d.errors.join("; ")}`);
    await d.context.close();
  }
}

// sync: two devices of one user (two browser contexts) on the server whose
// access tokens last 3 seconds, so the second device's stream also meets an
// expired token and must refresh and resume by itself.
async function sync() {
  const devices = await openDevices(["A", "B"], "sync.html", clientApi, "sync");
  const [a, b] = devices;
  const check = (what, ok, detail) => (ok ? pass(`sync: ${what}`) : fail(`sync: ${what}${detail === undefined ? "" : ` (${JSON.stringify(detail)})`}`));
  const run = (d, f, arg) => d.page.evaluate(f, arg);
  const email = `sync-${Date.now()}@example.com`;
  await run(a, (e) => window.sync.client.register(e, "correct-horse-battery"), email);
  for (const d of devices) await run(d, (e) => window.sync.client.login(e, "correct-horse-battery"), email);

  // B takes a cursor, lists (nothing yet), and follows from the cursor.
  const cursor = await run(b, () => window.sync.client.changes().then((l) => l.cursor));
  await run(b, (c) => window.sync.follow(c), cursor);
  await b.page.waitForFunction(() => window.sync.opens > 0, null, { timeout: 5000 });

  // seen waits until B has received n events and returns the delay of the
  // last one after `after` (a time on the same browser's clock), or -1.
  const seen = async (n, after) => {
    try {
      await b.page.waitForFunction((n) => window.sync.received.length >= n, n, { timeout: 5000 });
    } catch {
      return -1;
    }
    return run(b, ({ n, after }) => window.sync.received[n - 1].at - after, { n, after });
  };
  const now = (d) => run(d, () => Date.now());

  let t = await now(a);
  const created = await run(a, () => window.sync.client.createTask({ title: "shared" }).then((r) => r.data));
  let delay = await seen(1, t);
  check(`B sees A's create within 1 s (${delay} ms)`, delay >= 0 && delay < 1000, delay);
  t = await now(a);
  await run(a, (id) => window.sync.client.updateTask(id, { title: "edited on A" }), created.id);
  delay = await seen(2, t);
  check(`B sees A's edit within 1 s (${delay} ms)`, delay >= 0 && delay < 1000, delay);

  // B edits with the version it had before A's edit: 412, nothing changed.
  const stale = await run(b, (id) => window.sync.outcome((c) => c.updateTask(id, { completed: true }, { ifVersion: 1 })), created.id);
  check("B's edit with a stale version -> 412 with the current version", stale === "PRECONDITION_FAILED 2", stale);
  const reloaded = await run(b, (id) => window.sync.client.api.GET("/tasks/{task_id}", { params: { path: { task_id: id } } }).then((r) => r.data), created.id);
  check("the stale edit changed nothing", reloaded.title === "edited on A" && reloaded.completed === false, reloaded);
  const retried = await run(b, ({ id, v }) => window.sync.outcome((c) => c.updateTask(id, { completed: true }, { ifVersion: v })), { id: created.id, v: reloaded.version });
  check("B reloads and edits again -> ok", retried === "ok", retried);
  delay = await seen(3, await now(b)); // its own edit comes back as an event too
  t = await now(a);
  await run(a, (id) => window.sync.client.deleteTask(id), created.id);
  delay = await seen(4, t);
  check(`B sees A's delete within 1 s (${delay} ms)`, delay >= 0 && delay < 1000, delay);

  // The access token expires (3 s): the stream ends, and the client
  // refreshes and resumes on its own.
  await new Promise((r) => setTimeout(r, 4000));
  t = await now(a);
  await run(a, () => window.sync.client.createTask({ title: "after the token expired" }));
  delay = await seen(5, t);
  const opens = await run(b, () => window.sync.opens);
  check(`B's stream outlives its access token (reopened ${opens - 1} time(s); delivered in ${delay} ms)`, opens >= 2 && delay >= 0 && delay < 2000, { opens, delay });

  // B goes offline; A changes things; B comes back after its last event.
  const last = await run(b, () => { window.sync.close(); return window.sync.lastEventId(); });
  const before = await run(b, () => window.sync.received.length);
  await run(a, async () => {
    const c = window.sync.client;
    const one = (await c.createTask({ title: "offline 1" })).data;
    const two = (await c.createTask({ title: "offline 2" })).data;
    await c.createTask({ title: "offline 3" });
    await c.updateTask(one.id, { priority: "high" });
    await c.deleteTask(two.id);
  });
  await run(b, (c) => window.sync.follow(c), last);
  let caughtUp = false;
  for (let i = 0; i < 50 && !caughtUp; i++) {
    const [server, copy] = [await run(a, () => window.sync.serverTasks()), await run(b, () => window.sync.copy)];
    caughtUp = JSON.stringify(server) === JSON.stringify(copy);
    if (!caughtUp) await new Promise((r) => setTimeout(r, 100));
  }
  const after = await run(b, () => window.sync.received.length);
  check(`B catches up after being offline, nothing missed (${after - before} events)`, caughtUp, await run(b, () => window.sync.copy));
  const errors = await run(b, () => window.sync.errors);
  check("B's stream reported no error", errors.length === 0, errors);
  for (const d of devices) {
    d.errors.length === 0 ? pass(`sync: no page errors on ${d.name}`) : fail(`sync: page errors on ${d.name}: ${d.errors.join("; ")}`);
    await run(d, () => window.sync.close());
    await d.context.close();
  }
}

async function clientFlow() {
  {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://localhost:5173/?api=${encodeURIComponent(`${clientApi}/api/v1`)}&ttl=${ttlMs}`);
    await page.waitForFunction(() => window.__e2e?.done === true, null, { timeout: 60000 });
    const { steps } = await page.evaluate(() => window.__e2e);
    for (const s of steps) (s.ok ? pass : fail)(`client: ${s.name}${s.ok || !s.detail ? "" : ` (${s.detail})`}`);
    if (steps.length < 15) fail(`client: only ${steps.length} steps ran`);
    await page.screenshot({ path: `${out}client.png` });
    errors.length === 0 ? pass("client: no page errors") : fail(`client: page errors: ${errors.join("; ")}`);
  }
}

const server = await frontend();
try {
  await swaggerUI();
  await redoc();
  await clientFlow();
  await accounts();
  await sync();
} catch (e) {
  fail(`crashed: ${e?.stack ?? e}`);
} finally {
  server.close();
  await browser.close();
}
console.log(`\n${failures === 0 ? "e2e passed" : `e2e FAILED: ${failures} failure(s)`}; screenshots in ${out}`);
process.exit(failures === 0 ? 0 : 1);

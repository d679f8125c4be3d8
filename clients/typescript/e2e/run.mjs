// Browser tests against a running server (scripts/e2e.sh starts one):
//   1. Swagger UI at /docs lists every operation, and register and login
//      work through its "Try it out".
//   2. ReDoc at /redoc renders the merged document, with nothing from a CDN.
//   4. Two devices of one user (two browser contexts) through the account
//      calls: a password change, logout everywhere, account deletion.
//   3. A page served from another origin (http://localhost:5173) drives the
//      generated client through the whole flow.
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
    "listTasks", "getTask", "replaceTask", "updateTask", "deleteTask", "addTagToTask", "removeTagFromTask", "createTag",
    "listTags", "updateTag", "deleteTag"];
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
    "/tasks/{task_id}/tags/{tag_id}", "/tags", "/tags/{tag_id}"];
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
  const scripts = { "/page.js": await bundle("page"), "/accounts.js": await bundle("accounts") };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (scripts[path]) { res.writeHead(200, { "Content-Type": "text/javascript" }); res.end(scripts[path]); return; }
    const script = path === "/accounts.html" ? "/accounts.js" : "/page.js";
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<!doctype html><meta charset="utf-8"><title>client e2e</title><pre id="out">running</pre><script type="module" src="${script}"></script>`);
  });
  await new Promise((r) => server.listen(5173, "127.0.0.1", r));
  return server;
}

// accounts: two devices of one user (two browser contexts, each its own
// cookie jar) through the account calls of the client.
async function accounts() {
  const devices = [];
  for (const name of ["first", "second"]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://localhost:5173/accounts.html?api=${encodeURIComponent(`${api}/api/v1`)}`);
    await page.waitForFunction(() => window.todo !== undefined);
    devices.push({ name, context, page, errors });
  }
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
} catch (e) {
  fail(`crashed: ${e?.stack ?? e}`);
} finally {
  server.close();
  await browser.close();
}
console.log(`\n${failures === 0 ? "e2e passed" : `e2e FAILED: ${failures} failure(s)`}; screenshots in ${out}`);
process.exit(failures === 0 ? 0 : 1);

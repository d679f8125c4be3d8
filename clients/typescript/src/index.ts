/**
 * A typed client for the Todo API: openapi-fetch over the types that
 * openapi-typescript generates from ../../openapi/*.yaml (`make generate`),
 * plus the few helpers the raw client makes awkward:
 *
 * - login sends the OAuth2 password form (application/x-www-form-urlencoded);
 * - every request is sent with `credentials: "include"`, so the browser keeps
 *   and sends the HttpOnly refresh cookie, also cross-origin;
 * - one place refreshes the access token and retries a request once when the
 *   server answers 401 TOKEN_EXPIRED;
 * - the account page's calls (rename, sessions, password, deletion) as
 *   methods that return data or throw TodoApiError;
 * - several tabs and devices: writes conditional on a version (a stale one
 *   throws PreconditionFailed, with the current version), creates that are
 *   safe to retry (an Idempotency-Key), the change feed (`changes`) and live
 *   events (`subscribe`, over fetch: EventSource cannot send the token).
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components as AuthComponents, paths as AuthPaths } from "./generated/auth-api.js";
import type { components as TaskComponents, paths as TaskPaths } from "./generated/tasks-api.js";

/** Every route of the API, relative to its base URL (…/api/v1). */
export type paths = AuthPaths & TaskPaths;

export type User = AuthComponents["schemas"]["UserResponse"];
export type TokenResponse = AuthComponents["schemas"]["TokenResponse"];
export type Session = AuthComponents["schemas"]["Session"];
export type ApiError = AuthComponents["schemas"]["ErrorResponse"];
export type Task = TaskComponents["schemas"]["Task"];
export type TaskCreate = TaskComponents["schemas"]["TaskCreate"];
export type TaskUpdate = TaskComponents["schemas"]["TaskUpdate"];
export type TaskList = TaskComponents["schemas"]["TaskList"];
export type Tag = TaskComponents["schemas"]["Tag"];
export type TagInput = TaskComponents["schemas"]["TagInput"];
export type Priority = TaskComponents["schemas"]["Priority"];
export type Change = TaskComponents["schemas"]["Change"];
export type ChangeList = TaskComponents["schemas"]["ChangeList"];
export type ReminderDue = TaskComponents["schemas"]["ReminderDue"];
export type Reminder = TaskComponents["schemas"]["Reminder"];
export type Webhook = TaskComponents["schemas"]["Webhook"];
export type WebhookCreate = TaskComponents["schemas"]["WebhookCreate"];
export type WebhookCreated = TaskComponents["schemas"]["WebhookCreated"];
export type WebhookUpdate = TaskComponents["schemas"]["WebhookUpdate"];
export type WebhookDelivery = TaskComponents["schemas"]["WebhookDelivery"];
export type Recurrence = TaskComponents["schemas"]["Recurrence"];
export type RecurrenceInput = TaskComponents["schemas"]["RecurrenceInput"];
export type TaskCompletion = TaskComponents["schemas"]["TaskCompletion"];

/** An error answer of the API, thrown by the helpers. */
export class TodoApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError,
  ) {
    super(`${body.code}: ${body.detail}`);
    this.name = "TodoApiError";
  }
  get code(): string {
    return this.body.code;
  }
}

/**
 * 412 PRECONDITION_FAILED: the task or tag changed since the version the
 * write named. Reload it (currentVersion is the server's), then decide.
 */
export class PreconditionFailed extends TodoApiError {
  constructor(
    body: ApiError,
    readonly currentVersion: number,
  ) {
    super(412, body);
    this.name = "PreconditionFailed";
  }
}

/** Options of a write to one task or tag. */
export interface WriteOptions {
  /** Write only while the resource is at this version (If-Match); else PreconditionFailed. */
  ifVersion?: number;
}

/** Options of a create. */
export interface CreateOptions {
  /** The Idempotency-Key; a fresh random one when left out. */
  idempotencyKey?: string;
}

/** What a create returns. */
export interface Created<T> {
  data: T;
  /** True when the server answered an earlier request's response (the row was created then). */
  replayed: boolean;
  idempotencyKey: string;
}

/** Options of subscribe. */
export interface SubscribeOptions {
  /** Start after this cursor (of changes() or an event's id); from now on when left out. */
  since?: string;
  /** Told of what stops the stream for good: CURSOR_EXPIRED (list everything again), a lost session. */
  onError?: (error: TodoApiError) => void;
  /** Told each time the stream (re)opens. */
  onOpen?: () => void;
  /** Told of each of the user's reminders as it fires (while the stream is open). */
  onReminder?: (reminder: ReminderDue) => void;
}

/** An open subscription. */
export interface Subscription {
  /** The id of the last event received: the cursor to resume from. */
  readonly lastEventId: string | undefined;
  /** Stops the stream for good. */
  close(): void;
}

/** The If-Match header of a version. */
const ifMatch = (o?: WriteOptions) => (o?.ifVersion === undefined ? {} : { "If-Match": `"${o.ifVersion}"` });

/** A new Idempotency-Key. */
function newKey(): string {
  return globalThis.crypto.randomUUID();
}

export interface TodoClientOptions {
  /** The API's base URL, such as http://localhost:8000/api/v1. */
  baseUrl: string;
  /** A fetch to use instead of the global one (tests, server-side rendering). */
  fetch?: typeof globalThis.fetch;
}

/** What a helper returns: the data, or a thrown TodoApiError. */
function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.error !== undefined || r.data === undefined) {
    throw errorOf(r);
  }
  return r.data;
}

/** The TodoApiError of a failed answer (PreconditionFailed for a 412). */
function errorOf(r: { error?: unknown; response: Response }): TodoApiError {
  const body = (r.error ?? { detail: r.response.statusText, code: "UNKNOWN" }) as ApiError;
  if (r.response.status === 412) {
    const version = Number(r.response.headers.get("ETag")?.replaceAll('"', ""));
    return new PreconditionFailed(body, version);
  }
  return new TodoApiError(r.response.status, body);
}

/** For a call whose success has no body (204): throws its error, if any. */
function expectNoContent(r: { error?: unknown; response: Response }): void {
  if (r.error !== undefined || !r.response.ok) {
    throw errorOf(r);
  }
}

/**
 * Sends a create with an Idempotency-Key, once more with the same key when
 * the first attempt never got an answer (a network error): the server then
 * answers the first attempt's response, so nothing is created twice.
 */
async function createOnce<T>(
  key: string,
  send: (headers: Record<string, string>) => Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Created<T>> {
  const headers = { "Idempotency-Key": key };
  let r;
  try {
    r = await send(headers);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // fetch's network error
    r = await send(headers);
  }
  return { data: unwrap(r), replayed: r.response.headers.get("Idempotent-Replayed") === "true", idempotencyKey: key };
}

/** One parsed Server-Sent Event. */
interface ServerEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Splits a text/event-stream body into events as they arrive. */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event: ServerEvent = { data: "" };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
      if (line === "") {
        if (event.data !== "" || event.id !== undefined) yield event;
        event = { data: "" };
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") event.id = val;
        else if (field === "event") event.event = val;
        else if (field === "data") event.data += event.data === "" ? val : `\n${val}`;
      }
    }
  }
}

/** Calls that never retry after a refresh: they are how one gets tokens. */
const noRetry = /\/auth\/(login|register|refresh|logout)$/;

/** Creates a client. Keep one per page: it holds the access token in memory. */
export function createTodoClient(options: TodoClientOptions) {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const api = createClient<paths>({ baseUrl: options.baseUrl, credentials: "include", fetch: fetchImpl });
  let accessToken: string | undefined;
  let refreshing: Promise<boolean> | undefined;
  const replays = new WeakMap<Request, Request>();

  /** Trades the refresh cookie for a new access token; false when it can't. */
  async function refresh(): Promise<boolean> {
    // Concurrent 401s share one refresh (the server rotates the cookie).
    refreshing ??= api
      .POST("/auth/refresh", {})
      .then((r) => {
        accessToken = r.data?.access_token;
        return r.data !== undefined;
      })
      .finally(() => (refreshing = undefined));
    return refreshing;
  }

  const auth: Middleware = {
    onRequest({ request }) {
      if (accessToken && !request.headers.has("Authorization")) {
        request.headers.set("Authorization", `Bearer ${accessToken}`);
      }
      if (!noRetry.test(new URL(request.url).pathname)) {
        replays.set(request, request.clone()); // the body can be sent only once
      }
      return request;
    },
    async onResponse({ request, response }) {
      const replay = replays.get(request);
      if (response.status !== 401 || !replay) return response;
      const body = (await response.clone().json().catch(() => null)) as ApiError | null;
      if (body?.code !== "TOKEN_EXPIRED" || !(await refresh())) return response;
      replay.headers.set("Authorization", `Bearer ${accessToken}`);
      return fetchImpl(replay);
    },
  };
  api.use(auth);

  return {
    /** The raw openapi-fetch client: every route, fully typed. */
    api,
    /** The access token in use, if any. */
    get accessToken() {
      return accessToken;
    },
    set accessToken(token: string | undefined) {
      accessToken = token;
    },
    async register(email: string, password: string, name?: string | null): Promise<User> {
      return unwrap(await api.POST("/auth/register", { body: { email, password, name } }));
    },
    /** Logs in: keeps the access token, and the browser keeps the refresh cookie. */
    async login(email: string, password: string): Promise<TokenResponse> {
      const tokens = unwrap(
        await api.POST("/auth/login", {
          body: { username: email, password },
          bodySerializer: (b) => new URLSearchParams(b as Record<string, string>),
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        }),
      );
      accessToken = tokens.access_token;
      return tokens;
    },
    refresh,
    async me(): Promise<User> {
      return unwrap(await api.GET("/auth/me"));
    },
    /** Logs out: the server revokes the session and clears the cookie. */
    async logout(): Promise<void> {
      unwrap(await api.POST("/auth/logout", {}));
      accessToken = undefined;
    },
    /** Sets the display name; null (or blank) clears it. */
    async updateMe(name: string | null): Promise<User> {
      return unwrap(await api.PATCH("/auth/me", { body: { name } }));
    },
    /** The user's live sessions (devices), most recently used first; `current` is this one. */
    async sessions(): Promise<Session[]> {
      return unwrap(await api.GET("/auth/sessions"));
    },
    /** Ends one session (a lost phone): its tokens stop working within a second. */
    async revokeSession(sessionId: string): Promise<void> {
      expectNoContent(await api.DELETE("/auth/sessions/{session_id}", { params: { path: { session_id: sessionId } } }));
    },
    /** Logs out everywhere: every session ends, this one included. */
    async logoutEverywhere(): Promise<void> {
      expectNoContent(await api.DELETE("/auth/sessions"));
      accessToken = undefined;
    },
    /** Changes the password; every other session ends, this one goes on. */
    async changePassword(currentPassword: string, newPassword: string): Promise<void> {
      unwrap(await api.POST("/auth/password", { body: { current_password: currentPassword, new_password: newPassword } }));
    },
    /** Creates a task, safe to retry: see createOnce. */
    async createTask(body: TaskCreate, options: CreateOptions = {}): Promise<Created<Task>> {
      return createOnce(options.idempotencyKey ?? newKey(), (headers) => api.POST("/tasks", { body, params: { header: headers } }));
    },
    /** Creates a tag, safe to retry: see createOnce. */
    async createTag(body: TagInput, options: CreateOptions = {}): Promise<Created<Tag>> {
      return createOnce(options.idempotencyKey ?? newKey(), (headers) => api.POST("/tags", { body, params: { header: headers } }));
    },
    /** Changes some fields of a task; with ifVersion, only if nobody changed it since. */
    async updateTask(taskId: number, body: TaskUpdate, options?: WriteOptions): Promise<Task> {
      return unwrap(
        await api.PATCH("/tasks/{task_id}", { params: { path: { task_id: taskId }, header: ifMatch(options) }, body }),
      );
    },
    /**
     * Completes a task; for a recurring one, `next` is its next occurrence
     * (null when the rule has ended). Safe to retry: completing a completed
     * task answers the same `next` and creates nothing.
     */
    async completeTask(taskId: number, options?: WriteOptions): Promise<TaskCompletion> {
      return unwrap(
        await api.POST("/tasks/{task_id}/complete", { params: { path: { task_id: taskId }, header: ifMatch(options) } }),
      );
    },
    /** The next due dates of a recurring task's series (none for a task that does not recur). */
    async occurrences(taskId: number, limit?: number): Promise<string[]> {
      const body = unwrap(await api.GET("/tasks/{task_id}/occurrences", { params: { path: { task_id: taskId }, query: { limit } } }));
      return body.occurrences;
    },
    /** Subscribes a URL to the user's events; the answer's `secret` (shown only here) verifies the deliveries. */
    async createWebhook(body: WebhookCreate): Promise<WebhookCreated> {
      return unwrap(await api.POST("/webhooks", { body }));
    },
    /** The user's webhooks, oldest first, without their secrets. */
    async webhooks(): Promise<Webhook[]> {
      return unwrap(await api.GET("/webhooks"));
    },
    /** Changes a webhook's URL, events or description, or disables or enables it. */
    async updateWebhook(webhookId: number, body: WebhookUpdate): Promise<Webhook> {
      return unwrap(await api.PATCH("/webhooks/{webhook_id}", { params: { path: { webhook_id: webhookId } }, body }));
    },
    /** Deletes a webhook. */
    async deleteWebhook(webhookId: number): Promise<void> {
      expectNoContent(await api.DELETE("/webhooks/{webhook_id}", { params: { path: { webhook_id: webhookId } } }));
    },
    /** Sends a webhook.test event to a webhook; answers its event id. */
    async testWebhook(webhookId: number): Promise<string> {
      return unwrap(await api.POST("/webhooks/{webhook_id}/test", { params: { path: { webhook_id: webhookId } } })).event_id;
    },
    /** A webhook's latest 100 delivery attempts, newest first. */
    async webhookDeliveries(webhookId: number): Promise<WebhookDelivery[]> {
      return unwrap(await api.GET("/webhooks/{webhook_id}/deliveries", { params: { path: { webhook_id: webhookId } } }));
    },
    /** Deletes a task; with ifVersion, only if nobody changed it since. */
    async deleteTask(taskId: number, options?: WriteOptions): Promise<void> {
      expectNoContent(await api.DELETE("/tasks/{task_id}", { params: { path: { task_id: taskId }, header: ifMatch(options) } }));
    },
    /** The changes after a cursor (a page: follow `cursor` while `has_more`); without one, the current cursor. */
    async changes(since?: string, limit?: number): Promise<ChangeList> {
      return unwrap(await api.GET("/changes", { params: { query: { since, limit } } }));
    },
    /**
     * Calls onChange with each change of the user's tasks and tags as it
     * happens, in order. The stream reconnects by itself (after a dropped
     * connection, an expired access token, which it refreshes first, or a
     * server shutting down), resuming after the last event received, so no
     * change is missed. It stops for good on close(), or when it cannot go
     * on (onError: CURSOR_EXPIRED, a session that ended).
     */
    subscribe(onChange: (change: Change, cursor: string) => void, subscription: SubscribeOptions = {}): Subscription {
      const stop = new AbortController();
      let lastEventId = subscription.since;
      const url = `${options.baseUrl}/events`;
      const run = async () => {
        let wait = 250;
        while (!stop.signal.aborted) {
          let failed: TodoApiError | undefined;
          try {
            const headers: Record<string, string> = { Accept: "text/event-stream" };
            if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
            if (lastEventId !== undefined) headers["Last-Event-ID"] = lastEventId;
            const response = await fetchImpl(url, { headers, credentials: "include", signal: stop.signal });
            if (response.ok && response.body) {
              wait = 250;
              subscription.onOpen?.();
              for await (const e of readEvents(response.body)) {
                if (e.event === "reminder") subscription.onReminder?.(JSON.parse(e.data) as ReminderDue);
                if (e.event !== "change") continue;
                lastEventId = e.id ?? lastEventId;
                onChange(JSON.parse(e.data) as Change, e.id ?? "");
              }
              continue; // ended by the server (token expiry, shutdown): reconnect at once
            }
            const body = (await response.json().catch(() => ({ detail: response.statusText, code: "UNKNOWN" }))) as ApiError;
            failed = new TodoApiError(response.status, body);
          } catch (e) {
            if (stop.signal.aborted) return;
            // A network error or a dropped stream: try again after a pause.
          }
          if (failed?.status === 401 && (await refresh())) continue;
          if (failed && failed.status !== 429 && failed.status < 500) {
            subscription.onError?.(failed);
            return;
          }
          await new Promise((r) => setTimeout(r, wait));
          wait = Math.min(wait * 2, 10_000);
        }
      };
      void run();
      return {
        get lastEventId() {
          return lastEventId;
        },
        close: () => stop.abort(),
      };
    },
    /** Deletes the account and everything in it, after checking the password. */
    async deleteAccount(password: string): Promise<void> {
      expectNoContent(await api.POST("/auth/delete-account", { body: { password } }));
      accessToken = undefined;
    },
  };
}

export type TodoClient = ReturnType<typeof createTodoClient>;
export { unwrap };

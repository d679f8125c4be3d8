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
 *   methods that return data or throw TodoApiError.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { components as AuthComponents, paths as AuthPaths } from "./generated/auth-api.ts";
import type { components as TaskComponents, paths as TaskPaths } from "./generated/tasks-api.ts";

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

export interface TodoClientOptions {
  /** The API's base URL, such as http://localhost:8000/api/v1. */
  baseUrl: string;
  /** A fetch to use instead of the global one (tests, server-side rendering). */
  fetch?: typeof globalThis.fetch;
}

/** What a helper returns: the data, or a thrown TodoApiError. */
function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.error !== undefined || r.data === undefined) {
    const body = (r.error ?? { detail: r.response.statusText, code: "UNKNOWN" }) as ApiError;
    throw new TodoApiError(r.response.status, body);
  }
  return r.data;
}

/** For a call whose success has no body (204): throws its error, if any. */
function expectNoContent(r: { error?: unknown; response: Response }): void {
  if (r.error !== undefined || !r.response.ok) {
    const body = (r.error ?? { detail: r.response.statusText, code: "UNKNOWN" }) as ApiError;
    throw new TodoApiError(r.response.status, body);
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
    /** Deletes the account and everything in it, after checking the password. */
    async deleteAccount(password: string): Promise<void> {
      expectNoContent(await api.POST("/auth/delete-account", { body: { password } }));
      accessToken = undefined;
    },
  };
}

export type TodoClient = ReturnType<typeof createTodoClient>;
export { unwrap };

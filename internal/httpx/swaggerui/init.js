// Swagger UI over every spec the server publishes (see /openapi/specs.json):
// first the whole API in one document, then each spec file.
//
// "Try it out" covers the whole flow: after a successful login or refresh,
// the access token goes into the Authorize dialog by itself, so the Bearer
// routes work next; the refresh cookie is sent by the browser (same origin).
function authorizeFrom(res) {
  if (!res.ok || !/\/auth\/(login|refresh)$/.test(new URL(res.url, location.href).pathname)) return res;
  let body = res.body;
  try {
    if (!body || typeof body !== "object") body = JSON.parse(res.text);
  } catch (e) {
    return res;
  }
  if (body && body.access_token && window.ui) {
    window.ui.authActions.authorize({
      bearerAuth: { name: "bearerAuth", schema: { type: "http", scheme: "bearer", bearerFormat: "JWT" }, value: body.access_token },
    });
  }
  return res;
}

fetch("/openapi/specs.json")
  .then((r) => r.json())
  .then((urls) => {
    window.ui = SwaggerUIBundle({
      urls: urls,
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      withCredentials: true,
      responseInterceptor: authorizeFrom,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: "StandaloneLayout",
    });
  });

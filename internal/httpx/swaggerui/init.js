// Swagger UI for every spec the server publishes (see /openapi/specs.json).
fetch("/openapi/specs.json")
  .then((r) => r.json())
  .then((urls) => {
    window.ui = SwaggerUIBundle({
      urls: urls,
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      withCredentials: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: "StandaloneLayout",
    });
  });

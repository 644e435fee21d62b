// Swagger UI for the gateway's admin API. The document is served without the admin token; the
// Authorize button takes the token (the document's bearer scheme) for "Try it out".
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/admin/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    persistAuthorization: false,
  });
};

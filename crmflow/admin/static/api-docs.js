// The interactive API page: Swagger UI over /api/openapi.json, calls signed by the session.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
window.SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
  requestInterceptor: (request) => {
    request.headers["X-CSRFToken"] = csrf;
    return request;
  },
});

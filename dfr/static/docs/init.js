// Starts Swagger UI on the API description; a file of its own because the CSP allows no inline script.
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  const url = new URL(root.dataset.openapiUrl, document.baseURI).href;
  window.ui = SwaggerUIBundle({
    url: url,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();

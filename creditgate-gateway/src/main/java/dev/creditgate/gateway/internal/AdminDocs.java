package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;

/**
 * The admin API's description and a browser for it: the OpenAPI 3.1 document at {@code
 * /admin/v1/openapi.json} and Swagger UI at {@code /admin/docs}. Both are served without the admin
 * token: they hold no data, and the browser asks for the token before it calls the API. Swagger
 * UI's files come from its WebJar on the classpath, so the page needs nothing but the gateway.
 */
final class AdminDocs {

  static final String DOCUMENT_PATH = AdminApi.PREFIX + "/openapi.json";
  static final String UI_PATH = "/admin/docs";

  private static final String DOCUMENT = "dev/creditgate/gateway/admin-openapi.json";
  private static final String OWN_FILES = "dev/creditgate/gateway/admin-docs/";

  /** The page and its initializer are the gateway's own: the WebJar's load a demo API. */
  private static final Set<String> OWN = Set.of("index.html", "swagger-initializer.js");

  private final byte[] document;
  private final ClasspathFiles own = new ClasspathFiles(OWN_FILES, UI_PATH);
  private final ClasspathFiles webjar =
      ClasspathFiles.webjar("org.webjars", "swagger-ui", "", UI_PATH);

  /**
   * @param unserved the document's paths (under {@link AdminApi#PREFIX}) this gateway does not
   *     serve, since its ledger lacks their role (credit policies, spend series); the document
   *     leaves them out
   * @throws IllegalStateException when the document or the Swagger UI WebJar is not on the
   *     classpath
   */
  AdminDocs(Set<String> unserved) {
    JsonNode doc;
    try (InputStream in = ClasspathFiles.resource(DOCUMENT)) {
      doc = Json.MAPPER.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot read the admin API's OpenAPI document " + DOCUMENT, e);
    }
    ((ObjectNode) doc.path("paths")).remove(unserved);
    this.document = Json.bytes(doc);
  }

  /** The document as served: JSON. */
  byte[] document() {
    return document.clone();
  }

  void register(RoutesConfig routes) {
    routes.get(
        DOCUMENT_PATH, ctx -> ctx.status(200).contentType("application/json").result(document));
    routes.get(UI_PATH, ctx -> serve(ctx, "index.html"));
    routes.get(UI_PATH + "/{file}", ctx -> serve(ctx, ctx.pathParam("file")));
  }

  private void serve(Context ctx, String name) throws IOException {
    (OWN.contains(name) ? own : webjar).serve(ctx, name);
  }
}

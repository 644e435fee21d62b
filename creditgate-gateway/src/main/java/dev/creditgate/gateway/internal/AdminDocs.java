package dev.creditgate.gateway.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.ApiError;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Pattern;

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
  private static final String WEBJAR_POM = "META-INF/maven/org.webjars/swagger-ui/pom.properties";
  private static final String WEBJAR_FILES = "META-INF/resources/webjars/swagger-ui/";

  /** The page and its initializer are the gateway's own: the WebJar's load a demo API. */
  private static final Set<String> OWN = Set.of("index.html", "swagger-initializer.js");

  /** A file directly in the UI's directory: no separators, no leading dot. */
  private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

  private static final Map<String, String> CONTENT_TYPES =
      Map.of(
          "html", "text/html; charset=utf-8",
          "js", "text/javascript; charset=utf-8",
          "css", "text/css; charset=utf-8",
          "map", "application/json",
          "txt", "text/plain; charset=utf-8",
          "png", "image/png");

  private final ClassLoader loader = AdminDocs.class.getClassLoader();
  private final byte[] document;
  private final String webjarFiles;

  /**
   * @param unserved the document's paths (under {@link AdminApi#PREFIX}) this gateway does not
   *     serve, since its ledger lacks their role (credit policies, spend series); the document
   *     leaves them out
   * @throws IllegalStateException when the document or the Swagger UI WebJar is not on the
   *     classpath
   */
  AdminDocs(Set<String> unserved) {
    JsonNode doc;
    try (InputStream in = resource(DOCUMENT)) {
      doc = Json.MAPPER.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot read the admin API's OpenAPI document " + DOCUMENT, e);
    }
    ((ObjectNode) doc.path("paths")).remove(unserved);
    this.document = Json.bytes(doc);
    Properties pom = new Properties();
    try (InputStream in = resource(WEBJAR_POM)) {
      pom.load(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + WEBJAR_POM, e);
    }
    String version = pom.getProperty("version");
    if (version == null || version.isBlank()) {
      throw new IllegalStateException(WEBJAR_POM + " names no version");
    }
    this.webjarFiles = WEBJAR_FILES + version + "/";
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
    String type = FILE_NAME.matcher(name).matches() ? CONTENT_TYPES.get(extension(name)) : null;
    String path = (OWN.contains(name) ? OWN_FILES : webjarFiles) + name;
    try (InputStream in = type == null ? null : loader.getResourceAsStream(path)) {
      if (in == null) {
        throw new ApiError(
            404,
            "invalid_request_error",
            "not_found",
            "no such file: " + UI_PATH + "/" + Authenticator.abbreviate(name));
      }
      ctx.status(200).contentType(type).result(in.readAllBytes());
    }
  }

  private static String extension(String name) {
    int dot = name.lastIndexOf('.');
    return dot < 0 ? "" : name.substring(dot + 1);
  }

  private InputStream resource(String path) {
    InputStream in = loader.getResourceAsStream(path);
    if (in == null) {
      throw new IllegalStateException(path + " is missing from the classpath");
    }
    return in;
  }
}

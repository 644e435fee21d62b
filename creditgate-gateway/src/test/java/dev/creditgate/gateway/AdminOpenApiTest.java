package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.creditgate.gateway.internal.AdminApi;
import io.swagger.v3.oas.models.SpecVersion;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The admin API's OpenAPI document and Swagger UI, served by a running gateway: the document is
 * valid OpenAPI 3.1, names exactly the admin routes the gateway registers, and real answers of
 * every operation (errors included) match the schema it documents for their status; Swagger UI's
 * page and files come from the classpath.
 */
class AdminOpenApiTest extends GatewayTestSupport {

  private static final String DOCUMENT = "/admin/v1/openapi.json";
  private static final int MAX_BODY_BYTES = 65_536;
  private static final Set<String> METHODS =
      Set.of("get", "put", "post", "delete", "patch", "head", "options", "trace");

  private JsonNode document;
  private SchemaCheck schemas;

  @Override
  Map<String, String> backend(Path tmp) {
    return Map.of(
        "ledger.url",
        "jdbc:sqlite:" + tmp.resolve("creditgate.db"),
        "server.max-body-bytes",
        Long.toString(MAX_BODY_BYTES));
  }

  @BeforeAll
  void readDocument() throws Exception {
    HttpResponse<String> served = get(DOCUMENT);
    assertThat(served.statusCode()).isEqualTo(200);
    assertThat(served.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
    document = JSON.readTree(served.body());
    schemas = new SchemaCheck(document);
  }

  @Test
  void theDocumentIsValidOpenApi31() throws Exception {
    ParseOptions options = new ParseOptions();
    options.setResolve(true);
    SwaggerParseResult parsed =
        new OpenAPIV3Parser().readContents(get(DOCUMENT).body(), null, options);
    assertThat(parsed.getMessages()).isEmpty();
    assertThat(parsed.getOpenAPI().getSpecVersion()).isEqualTo(SpecVersion.V31);
    assertThat(parsed.getOpenAPI().getOpenapi()).isEqualTo("3.1.0");
    assertThat(
            parsed.getOpenAPI().getComponents().getSecuritySchemes().get("adminToken").getScheme())
        .isEqualTo("bearer");
  }

  @Test
  void theDocumentNamesExactlyTheAdminRoutesTheGatewayRegisters() {
    Set<String> registered = new TreeSet<>();
    for (String route : server.gateway().routes()) {
      if (route.substring(route.indexOf(' ') + 1).startsWith(AdminApi.PREFIX + "/")) {
        registered.add(route);
      }
    }
    assertThat(registered).contains("GET " + AdminApi.PREFIX + "/accounts/{id}/credit-policy");
    assertThat(documentedOperations()).isEqualTo(registered);
  }

  @Test
  void realAnswersMatchTheSchemaDocumentedForTheirStatus() throws Exception {
    String account = account();
    String path = "/accounts/" + account;
    List<HttpResponse<String>> answers = new ArrayList<>();
    answers.add(admin("POST", "/accounts", "{\"id\":\"" + account + "\"}", Map.of()));
    answers.add(admin("GET", "/accounts?limit=1", null, Map.of()));
    String grant = "{\"amount\":5000,\"reason\":\"top-up\"}";
    answers.add(admin("POST", path + "/grants", grant, Map.of("Idempotency-Key", "g-1")));
    answers.add(
        admin("POST", path + "/grants", "{\"amount\":7}", Map.of("Idempotency-Key", "g-1")));
    answers.add(admin("POST", path + "/grants", grant, Map.of()));
    answers.add(
        admin("POST", path + "/grants", "{\"amount\":-1}", Map.of("Idempotency-Key", "g-2")));
    answers.add(admin("POST", path + "/block", "{\"reason\":\"abuse\"}", Map.of()));
    answers.add(admin("POST", path + "/unblock", null, Map.of("Idempotency-Key", "u-1")));
    answers.add(admin("GET", path, null, Map.of()));
    answers.add(admin("GET", path + "/entries?limit=1", null, Map.of()));
    answers.add(admin("GET", path + "/entries?cursor=nope", null, Map.of()));
    answers.add(admin("GET", path + "/holds", null, Map.of()));
    answers.add(admin("DELETE", path + "/holds/no-such-call", null, Map.of()));
    answers.add(
        admin("PUT", path + "/credit-policy", "{\"mode\":\"check\",\"overdraft\":5}", Map.of()));
    answers.add(admin("GET", path + "/credit-policy", null, Map.of()));
    answers.add(admin("PUT", path + "/credit-policy", "{\"mode\":\"loose\"}", Map.of()));
    answers.add(admin("DELETE", path + "/credit-policy", null, Map.of()));
    answers.add(admin("GET", "/spend?account_id=" + account + "&bucket=day", null, Map.of()));
    answers.add(admin("GET", "/spend?group_by=alias", null, Map.of()));
    answers.add(admin("GET", "/spend?bucket=week", null, Map.of()));
    answers.add(admin("GET", path + "/spend?bucket=minute&group_by=model", null, Map.of()));
    answers.add(admin("GET", "/accounts/nobody-" + account + "/spend", null, Map.of()));
    answers.add(admin("GET", "/accounts/nobody-" + account, null, Map.of()));
    answers.add(admin("POST", "/accounts", "{\"id\":", Map.of()));
    String huge = "{\"id\":\"" + "x".repeat(MAX_BODY_BYTES) + "\"}";
    answers.add(admin("POST", "/accounts", huge, Map.of()));

    HttpResponse<String> user =
        admin(
            "POST",
            "/keys",
            "{\"kind\":\"user\",\"account_id\":\"" + account + "\",\"label\":\"ci\"}",
            Map.of());
    answers.add(user);
    answers.add(admin("POST", "/keys", "{\"kind\":\"service\"}", Map.of()));
    answers.add(admin("POST", "/keys", "{\"kind\":\"robot\"}", Map.of()));
    answers.add(admin("GET", "/keys?account_id=" + account, null, Map.of()));
    String keyId = JSON.readTree(user.body()).path("id").asText();
    answers.add(admin("DELETE", "/keys/" + keyId, null, Map.of()));
    answers.add(admin("POST", "/keys/" + keyId + "/revoke", null, Map.of()));
    answers.add(admin("DELETE", "/keys/key_0000000000000000", null, Map.of()));

    String rule =
        "{\"provider\":\"openapi-test\",\"input_price\":100,\"output_price\":200,"
            + "\"credits_per_unit\":1000,\"priority\":-5}";
    HttpResponse<String> created = admin("POST", "/price-rules", rule, Map.of());
    answers.add(created);
    long ruleId = JSON.readTree(created.body()).path("id").asLong();
    answers.add(admin("PUT", "/price-rules/" + ruleId, rule, Map.of()));
    answers.add(admin("GET", "/price-rules", null, Map.of()));
    answers.add(
        admin(
            "GET",
            "/price-quote?rule_id=" + ruleId + "&input_tokens=1000&output_tokens=500",
            null,
            Map.of()));
    answers.add(
        admin(
            "GET",
            "/price-quote?input_price=100&output_price=200&credits_per_unit=1000&input_tokens=9",
            null,
            Map.of()));
    answers.add(admin("GET", "/price-quote?output_price=1", null, Map.of()));
    answers.add(admin("GET", "/price-quote?rule_id=" + (ruleId + 1000), null, Map.of()));
    answers.add(admin("DELETE", "/price-rules/" + ruleId, null, Map.of()));
    answers.add(admin("DELETE", "/price-rules/" + (ruleId + 1000), null, Map.of()));
    answers.add(admin("PUT", "/price-rules/zero", rule, Map.of()));
    answers.add(admin("POST", "/price-rules", "{\"input_price\":1}", Map.of()));

    String viewerName = "viewer-" + account;
    String viewerBody = "{\"name\":\"" + viewerName + "\",\"role\":\"viewer\"}";
    HttpResponse<String> viewer = admin("POST", "/admin-tokens", viewerBody, Map.of());
    answers.add(viewer);
    answers.add(admin("POST", "/admin-tokens", viewerBody, Map.of()));
    answers.add(
        admin("POST", "/admin-tokens", "{\"name\":\"Admin\",\"role\":\"viewer\"}", Map.of()));
    answers.add(admin("GET", "/admin-tokens", null, Map.of()));
    String viewerToken = JSON.readTree(viewer.body()).path("token").asText();
    String viewerId = JSON.readTree(viewer.body()).path("id").asText();
    answers.add(adminAs(viewerToken, "GET", path, null, Map.of()));
    answers.add(
        adminAs(viewerToken, "POST", path + "/grants", grant, Map.of("Idempotency-Key", "g-9")));
    answers.add(adminAs(viewerToken, "DELETE", path + "/holds/no-such-call", null, Map.of()));
    answers.add(adminAs(viewerToken, "PUT", "/price-rules/" + ruleId, rule, Map.of()));
    answers.add(adminAs(viewerToken, "DELETE", "/admin-tokens/" + viewerId, null, Map.of()));
    answers.add(admin("POST", "/admin-tokens/" + viewerId + "/revoke", null, Map.of()));
    answers.add(admin("DELETE", "/admin-tokens/" + viewerId, null, Map.of()));
    answers.add(admin("DELETE", "/admin-tokens/atk_0000000000000000", null, Map.of()));
    answers.add(admin("GET", "/overview", null, Map.of()));
    answers.add(send("GET", AdminApi.PREFIX + "/overview", null));

    answers.add(send("GET", AdminApi.PREFIX + "/accounts", null));
    answers.add(send("DELETE", AdminApi.PREFIX + "/price-rules/1", "not-the-token"));
    answers.add(send("GET", DOCUMENT, null));
    // Last: unknown named tokens until this address is held up (only named tokens are).
    HttpResponse<String> guess;
    int guesses = 0;
    do {
      guess = send("GET", AdminApi.PREFIX + "/admin-tokens", "cga_unknown" + guesses++);
    } while (guess.statusCode() == 401 && guesses < 100);
    answers.add(guess);

    Set<String> statuses = new TreeSet<>();
    Set<String> operations = new TreeSet<>();
    for (HttpResponse<String> answer : answers) {
      operations.add(assertDocumented(answer));
      statuses.add(Integer.toString(answer.statusCode()));
    }
    assertThat(statuses)
        .contains("200", "201", "400", "401", "403", "404", "409", "413", "422", "429");
    assertThat(operations).isEqualTo(documentedOperations());
  }

  @Test
  void theSchemaCheckRefusesAnswersTheDocumentDoesNotDescribe() throws Exception {
    String account = account();
    ObjectNode shown =
        (ObjectNode)
            JSON.readTree(
                admin("POST", "/accounts", "{\"id\":\"" + account + "\"}", Map.of()).body());
    JsonNode ref = JSON.createObjectNode().put("$ref", "#/components/schemas/Account");
    assertThat(schemas.problems(ref, shown)).isEmpty();
    assertThat(schemas.problems(ref, shown.deepCopy().put("surprise", 1)))
        .containsExactly("$.surprise is not in the document");
    ObjectNode withoutBalance = shown.deepCopy();
    withoutBalance.remove("balance");
    assertThat(schemas.problems(ref, withoutBalance)).hasSize(1);
    assertThat(schemas.problems(ref, shown.deepCopy().put("blocked", "no"))).hasSize(1);
    assertThat(schemas.problems(ref, shown.deepCopy().put("object", "acount"))).hasSize(1);
    assertThat(schemas.problems(ref, shown.deepCopy().put("id", "a b"))).hasSize(1);
    JsonNode detail = JSON.createObjectNode().put("$ref", "#/components/schemas/AccountDetail");
    assertThat(schemas.problems(detail, shown)).hasSize(3);
  }

  @Test
  void theOverviewsDenyReasonsAreTheOnesTheDocumentNames() throws Exception {
    JsonNode overview = JSON.readTree(admin("GET", "/overview", null, Map.of()).body());
    List<String> served = new ArrayList<>();
    overview.path("deny_reasons").forEach(r -> served.add(r.asText()));
    assertThat(served).contains("denied_insufficient_credit", "concurrency_key");
    JsonNode schemas = document.path("components").path("schemas");
    List<String> documented = new ArrayList<>();
    schemas.path("DenyReason").path("enum").forEach(r -> documented.add(r.asText()));
    assertThat(documented).isEqualTo(served);
    assertThat(schemas.path("DeniedByReason").path("properties").properties())
        .extracting(Map.Entry::getKey)
        .containsExactlyElementsOf(served);
  }

  @Test
  void swaggerUiIsServedFromTheClasspathWithoutTheToken() throws Exception {
    HttpResponse<String> page = get("/admin/docs");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("text/html"));
    assertThat(page.body()).contains("swagger-ui-bundle.js", "swagger-ui.css");

    Matcher files = Pattern.compile("(?:src|href)=\"(/admin/docs/[^\"]+)\"").matcher(page.body());
    Map<String, String> served = new HashMap<>();
    while (files.find()) {
      HttpResponse<String> file = get(files.group(1));
      assertThat(file.statusCode()).as(files.group(1)).isEqualTo(200);
      assertThat(file.body()).as(files.group(1)).isNotEmpty();
      served.put(files.group(1), file.headers().firstValue("Content-Type").orElse(""));
    }
    assertThat(served)
        .containsKeys(
            "/admin/docs/swagger-ui-bundle.js",
            "/admin/docs/swagger-ui.css",
            "/admin/docs/swagger-initializer.js");
    assertThat(served.get("/admin/docs/swagger-ui-bundle.js")).startsWith("text/javascript");
    assertThat(served.get("/admin/docs/swagger-ui.css")).startsWith("text/css");
    assertThat(get("/admin/docs/swagger-ui-bundle.js").body()).contains("SwaggerUIBundle");
    assertThat(get("/admin/docs/swagger-initializer.js").body()).contains("\"" + DOCUMENT + "\"");
    assertThat(get("/admin/docs/").body()).isEqualTo(page.body());

    for (String unknown : List.of("/admin/docs/no-such-file.js", "/admin/docs/README")) {
      HttpResponse<String> missing = get(unknown);
      assertThat(missing.statusCode()).as(unknown).isEqualTo(404);
      assertThat(code(missing)).as(unknown).isEqualTo("not_found");
    }
    assertThat(get("/admin/docs/a/swagger-ui.css").statusCode()).isEqualTo(404);
  }

  @Test
  void anUnknownPathGetsAJsonNotFoundUnderEveryPrefix() throws Exception {
    for (String unknown :
        List.of(
            "/admin/v1/nothing",
            "/admin/v1/accounts/x/nothing",
            "/admin/docs/a/swagger-ui.css",
            "/console/assets/",
            "/v1/nothing",
            "/nothing")) {
      HttpResponse<String> missing = get(unknown);
      assertThat(missing.statusCode()).as(unknown).isEqualTo(404);
      assertThat(missing.headers().firstValue("Content-Type").orElse(""))
          .as(unknown)
          .startsWith("application/json");
      assertThat(code(missing)).as(unknown).isEqualTo("not_found");
    }
  }

  /** Every operation of the document, as its method and full path template. */
  private Set<String> documentedOperations() {
    Set<String> operations = new TreeSet<>();
    for (Map.Entry<String, JsonNode> path : document.path("paths").properties()) {
      for (Map.Entry<String, JsonNode> field : path.getValue().properties()) {
        if (METHODS.contains(field.getKey())) {
          operations.add(field.getKey().toUpperCase(Locale.ROOT) + " " + base() + path.getKey());
        }
      }
    }
    return operations;
  }

  /**
   * Checks that {@code answer} is JSON matching the schema the document gives its operation for its
   * status; returns the operation, as its method and full path template.
   */
  private String assertDocumented(HttpResponse<String> answer) throws Exception {
    String method = answer.request().method();
    String what = method + " " + answer.uri().getRawPath() + " -> " + answer.statusCode();
    String template =
        template(answer.uri().getPath())
            .orElseThrow(() -> new AssertionError("no documented path serves " + what));
    JsonNode operation =
        document.path("paths").path(template).path(method.toLowerCase(Locale.ROOT));
    assertThat(operation.isMissingNode()).as("operation documented for %s", what).isFalse();
    JsonNode response =
        resolve(operation.path("responses").path(Integer.toString(answer.statusCode())));
    assertThat(response.isMissingNode())
        .as("status documented for %s: %s", what, answer.body())
        .isFalse();
    assertThat(answer.headers().firstValue("Content-Type").orElse(""))
        .as(what)
        .startsWith("application/json");
    JsonNode schema = response.path("content").path("application/json").path("schema");
    assertThat(schema.isMissingNode()).as("schema of %s", what).isFalse();
    assertThat(schemas.problems(schema, JSON.readTree(answer.body())))
        .as("%s answered %s", what, answer.body())
        .isEmpty();
    return method + " " + base() + template;
  }

  /** The document's path template that matches a request's path. */
  private Optional<String> template(String requestPath) {
    if (!requestPath.startsWith(base())) {
      return Optional.empty();
    }
    String path = requestPath.substring(base().length());
    for (Map.Entry<String, JsonNode> template : document.path("paths").properties()) {
      if (path.matches(template.getKey().replaceAll("\\{[^/}]+}", "[^/]+"))) {
        return Optional.of(template.getKey());
      }
    }
    return Optional.empty();
  }

  /** Where the document's paths are, {@code /admin/v1}. */
  private String base() {
    return document.path("servers").get(0).path("url").asText();
  }

  /** The node a local {@code $ref} names, or the node itself. */
  private JsonNode resolve(JsonNode node) {
    String ref = node.path("$ref").asText("");
    return ref.startsWith("#/") ? document.at(ref.substring(1)) : node;
  }

  /** A request with {@code token} as the bearer token, or none when it is null. */
  private HttpResponse<String> send(String method, String path, String token) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(20))
            .method(method, HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }
}

package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The OpenAPI document names the credit-policy routes only when the gateway serves them. */
class AdminDocsTest {

  @Test
  void theCreditPolicyRoutesAreDocumentedOnlyWhenTheLedgerKeepsPolicies() throws Exception {
    assertThat(paths(new AdminDocs(true))).contains(AdminApi.CREDIT_POLICY, "/accounts/{id}");
    assertThat(paths(new AdminDocs(false)))
        .doesNotContain(AdminApi.CREDIT_POLICY)
        .contains("/accounts/{id}");
  }

  private static List<String> paths(AdminDocs docs) throws Exception {
    List<String> paths = new ArrayList<>();
    Json.MAPPER
        .readTree(docs.document())
        .path("paths")
        .properties()
        .forEach(p -> paths.add(p.getKey()));
    return paths;
  }
}

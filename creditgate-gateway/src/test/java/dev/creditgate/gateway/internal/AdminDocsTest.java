package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The OpenAPI document names the routes of a ledger's optional roles (credit policies, spend
 * series) only when the gateway serves them.
 */
class AdminDocsTest {

  @Test
  void theCreditPolicyRoutesAreDocumentedOnlyWhenTheLedgerKeepsPolicies() throws Exception {
    assertThat(paths(new AdminDocs(Set.of()))).contains(AdminApi.CREDIT_POLICY, "/accounts/{id}");
    assertThat(paths(new AdminDocs(Set.of(AdminApi.CREDIT_POLICY))))
        .doesNotContain(AdminApi.CREDIT_POLICY)
        .contains("/accounts/{id}", AdminSpend.SPEND);
  }

  @Test
  void theSpendRoutesAreDocumentedOnlyWhenTheLedgerKeepsASpendSeries() throws Exception {
    assertThat(paths(new AdminDocs(Set.of()))).contains(AdminSpend.SPEND, AdminSpend.ACCOUNT_SPEND);
    assertThat(paths(new AdminDocs(Set.of(AdminSpend.SPEND, AdminSpend.ACCOUNT_SPEND))))
        .doesNotContain(AdminSpend.SPEND, AdminSpend.ACCOUNT_SPEND)
        .contains("/accounts/{id}", AdminApi.CREDIT_POLICY);
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

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The pricing scene ({@code X-Creditgate-Scene}) is the operator's, not the user's: a user key may
 * name only a scene of {@code keys.user-scenes}; any other, such as an internal scene priced at a
 * discount, is refused before anything is called or charged. Service keys still choose. PostgreSQL
 * ledger, Redis cache.
 */
class UserSceneTest extends GatewayTestSupport {

  static final String SCENE = "X-Creditgate-Scene";

  @Override
  Map<String, String> backend(Path tmp) throws Exception {
    return Map.of(
        "ledger.url",
        TestBackends.freshPostgresSchema("scene"),
        "cache.redis-uri",
        TestBackends.REDIS_URI,
        "cache.redis-prefix",
        TestBackends.freshRedisPrefix("scene"),
        "keys.user-scenes",
        "support, Search");
  }

  /** An internal scene at a tenth of the price, and the allowed one at the same price as all. */
  @BeforeAll
  void discountedInternalScene() {
    ledger.createPriceRule(
        new PriceRule(0, "internal", "", "", 320, 1600, 80, 1600, 1_000_000, 0, 10, true));
  }

  LedgerEntry theCharge(String account) {
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(account).size() == 1);
    return charges(account).get(0);
  }

  @Test
  void aUserKeyCannotPickAnInternalDiscountedScene() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    for (String scene : new String[] {"internal", " INTERNAL ", "unknown-scene"}) {
      HttpResponse<String> r = post(key, HELLO, Map.of(SCENE, scene));
      assertThat(r.statusCode()).as(scene).isEqualTo(400);
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertThat(error.path("code").asText()).isEqualTo("scene_not_allowed");
      assertThat(error.path("param").asText()).isEqualTo(SCENE);
    }
    assertThat(upstream.requests).isEmpty();
    assertThat(charges(account)).isEmpty();
    assertThat(balance(account)).isEqualTo(100_000);
  }

  @Test
  void aUserKeyMayNameAnAllowedSceneInAnyCaseOrNone() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    HttpResponse<String> r = post(key, HELLO, Map.of(SCENE, "SUPPORT"));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    LedgerEntry charge = theCharge(account);
    assertThat(charge.scene()).isEqualToIgnoringCase("support");
    assertThat(-charge.amount()).isEqualTo(expectedCredits);

    String plain = account();
    assertThat(post(userKey(plain, 100_000), HELLO, Map.of()).statusCode()).isEqualTo(200);
    assertThat(theCharge(plain).scene()).isEmpty();
  }

  @Test
  void aServiceKeyStillChoosesTheScene() throws Exception {
    String account = account();
    ledger.openAccount(account);
    ledger.grant(account, 100_000, "seed-" + UUID.randomUUID(), "test", "seed");
    String service = server.keys().create(ApiKey.Kind.SERVICE, "", "backend").secret();
    HttpResponse<String> r =
        post(service, HELLO, Map.of("X-Creditgate-Account", account, SCENE, "internal"));
    assertThat(r.statusCode()).isEqualTo(200);
    LedgerEntry charge = theCharge(account);
    assertThat(charge.scene()).isEqualTo("internal");
    assertThat(-charge.amount()).isLessThan(expectedCredits);
  }
}

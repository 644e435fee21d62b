package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The console in a real browser (headless Chromium) against a gateway on PostgreSQL and Redis in
 * front of the simulator: every scenario signs in on the form and works the pages as an operator
 * would, then checks the effect through the API and the ledger.
 */
class ConsoleBrowserTest extends SimulatorGatewaySupport {

  private static final String HELLO =
      "{\"model\":\"pro\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  private ConsoleBrowser browser;

  @BeforeEach
  void browser() {
    if (browser == null) {
      browser = new ConsoleBrowser(base, 1280, 1000);
    }
    browser.driver.manage().deleteAllCookies();
  }

  @AfterAll
  void closeBrowser() {
    if (browser != null) {
      browser.close();
    }
  }

  private void signIn() {
    browser.signIn(GatewayTestSupport.ADMIN_TOKEN);
    browser.find("#operator");
  }

  private void openAccount(String account) {
    browser.open("/console#/accounts");
    browser.type("#account-search", account);
    browser.click("#account-search-go");
    browser.waitForText("#account-id", account);
  }

  @Test
  void aWrongTokenIsRefusedAndTheAdminTokenSignsIn() {
    browser.signIn("not-the-admin-token-at-all");
    assertThat(browser.text("[role=alert]")).contains("not valid");
    browser.open("/console");
    assertThat(browser.driver.getCurrentUrl()).endsWith("/console/sign-in");

    signIn();
    assertThat(browser.text("#operator")).contains("admin");
    assertThat(browser.driver.manage().getCookieNamed("creditgate_console").isHttpOnly()).isTrue();
  }

  @Test
  void grantingCreditShowsTheEntryTheBalanceAndTheSpendChart() throws Exception {
    String account = account();
    String key = userKey(account, 0);
    signIn();
    openAccount(account);
    assertThat(browser.text("#acct-available")).isEqualTo("0");

    browser.type("#grant-amount", "50000");
    browser.type("#grant-reason", "top-up from the console");
    browser.click("#grant-submit");
    browser.confirm();
    browser.waitForText("#action-result", "balance after 50,000");
    assertThat(browser.text("#action-result")).contains("by admin");
    browser.waitForText("#acct-available", "50,000");
    assertThat(balance(account)).isEqualTo(50_000);

    assertThat(post("/v1/chat/completions", key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    LedgerEntry charge = theCharge(account);
    browser.driver.navigate().refresh();
    browser.waitForText("#spend-total", String.format("%,d credits", -charge.amount()));
    browser.find("#chart-spend canvas");
    browser.waitForText("#acct-available", String.format("%,d", 50_000 + charge.amount()));
  }

  @Test
  void blockingAnAccountRefusesItsCallsWith402() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    assertThat(post("/v1/chat/completions", key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    signIn();
    openAccount(account);
    browser.type("#block-reason", "abuse report");
    browser.click("#block-toggle");
    browser.confirm();
    browser.waitForText("#account-status", "blocked");
    assertThat(post("/v1/chat/completions", key, HELLO, Map.of()).statusCode()).isEqualTo(402);
    assertThat(ledger.entries(account, null, 10).items().get(0).kind()).isEqualTo(EntryKind.BLOCK);
  }

  @Test
  void aKeyCreatedInTheConsoleWorksUntilItIsRevoked() throws Exception {
    String account = account();
    userKey(account, 100_000);
    signIn();
    openAccount(account);
    browser.type("#key-label", "console key");
    browser.click("#key-create");
    browser.confirm();
    String secret = browser.text("#new-secret");
    assertThat(secret).startsWith("cgk_");
    assertThat(post("/v1/chat/completions", secret, HELLO, Map.of()).statusCode()).isEqualTo(200);

    String id =
        server.keys().list(account).stream()
            .filter(k -> k.label().equals("console key"))
            .findFirst()
            .orElseThrow()
            .id();
    browser.click("button[data-key='" + id + "']");
    browser.confirm();
    browser.waitForText("#action-result", "revoked");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> post("/v1/chat/completions", secret, HELLO, Map.of()).statusCode() == 401);
  }

  @Test
  void anEditedPriceRulePricesTheNextCharge() throws Exception {
    String account = account();
    String key = userKey(account, 1_000_000);
    signIn();
    browser.open("/console#/price-rules");
    browser.click("button[data-edit-rule='" + rule.id() + "']");
    browser.type("#rule-output-price", Long.toString(rule.outputPrice() * 3));
    PriceRule edited =
        new PriceRule(
            rule.id(),
            rule.scene(),
            rule.provider(),
            rule.model(),
            rule.inputPrice(),
            rule.outputPrice() * 3,
            rule.cachedPrice(),
            rule.reasoningPrice(),
            rule.creditsPerUnit(),
            rule.markupBps(),
            rule.priority(),
            true);
    long example =
        Pricing.quote(edited, new dev.creditgate.pricing.Usage(1000, 500, 0, 0)).credits();
    browser.waitForText("#rule-example", String.format("cost %,d credits", example));
    browser.click("#rule-save");
    browser.confirm();
    browser.waitForText("#rule-result", "saved");
    try {
      assertThat(post("/v1/chat/completions", key, HELLO, Map.of()).statusCode()).isEqualTo(200);
      LedgerEntry charge = theCharge(account);
      assertThat(-charge.amount()).isEqualTo(Pricing.quote(edited, charge.usage()).credits());
      assertThat(charge.priceRuleId()).isEqualTo(rule.id());
    } finally {
      ledger.updatePriceRule(rule);
    }
  }

  @Test
  void signingOutEndsTheSession() {
    signIn();
    String cookie = browser.driver.manage().getCookieNamed("creditgate_console").getValue();
    browser.click("#sign-out");
    browser.find("#token");
    browser.open("/console");
    assertThat(browser.driver.getCurrentUrl()).endsWith("/console/sign-in");
    // The old cookie, replayed, no longer opens the admin API.
    browser.driver.manage().addCookie(new org.openqa.selenium.Cookie("creditgate_console", cookie));
    browser.open("/console");
    browser.wait.until(ExpectedConditions.urlContains("/console/sign-in"));
    assertThat(browser.driver.findElements(By.cssSelector("#operator"))).isEmpty();
  }

  @Test
  void screenshotsOfTheOverviewAndAnAccount() throws Exception {
    String account = "acme-support";
    String key = userKey(account, 250_000);
    for (int i = 0; i < 3; i++) {
      post("/v1/chat/completions", key, HELLO, Map.of());
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(account).size() == 3);
    signIn();
    browser.open("/console#/overview");
    browser.find("#chart-credits canvas");
    browser.screenshot("overview");
    openAccount(account);
    browser.find("#chart-spend canvas");
    browser.screenshot("account");
  }
}

package dev.creditgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.deque.html.axecore.results.Results;
import com.deque.html.axecore.selenium.AxeBuilder;
import dev.creditgate.ledger.EntryKind;
import dev.creditgate.ledger.LedgerEntry;
import dev.creditgate.pricing.PriceRule;
import dev.creditgate.pricing.Pricing;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
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
    assertThat(browser.text("#chart-spend")).contains("by alias").contains("pro");
    browser.waitForText("#acct-available", String.format("%,d", 50_000 + charge.amount()));
  }

  @Test
  void theOverviewShowsTheHoursAdmittedAndDeniedCallsAndReadiness() throws Exception {
    String funded = account();
    String key = userKey(funded, 100_000);
    String broke = account();
    String brokeKey = userKey(broke, 0);
    for (int i = 0; i < 2; i++) {
      assertThat(post("/v1/chat/completions", key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    }
    assertThat(post("/v1/chat/completions", brokeKey, HELLO, Map.of()).statusCode()).isEqualTo(402);
    await().atMost(Duration.ofSeconds(10)).until(() -> charges(funded).size() == 2);
    com.fasterxml.jackson.databind.JsonNode overview =
        JSON.readTree(
            http.send(
                    java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create(base + "/admin/v1/overview"))
                        .header("Authorization", "Bearer " + GatewayTestSupport.ADMIN_TOKEN)
                        .build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString())
                .body());
    long admitted = 0;
    long denied = 0;
    for (com.fasterxml.jackson.databind.JsonNode m : overview.path("minutes")) {
      admitted += m.path("admitted").asLong();
      for (com.fasterxml.jackson.databind.JsonNode n : m.path("denied")) {
        denied += n.asLong();
      }
    }
    assertThat(admitted).isGreaterThanOrEqualTo(2);
    assertThat(denied).isGreaterThanOrEqualTo(1);

    signIn();
    browser.open("/console#/overview");
    browser.waitForText("#ov-admitted", String.format("%,d", admitted));
    browser.waitForText("#ov-denied", String.format("%,d", denied));
    browser.find("#chart-traffic canvas");
    assertThat(browser.text("main")).contains("ledger").contains("pro: pro#0");
  }

  @Test
  void aViewerSeesTheAccountButNoActions() {
    String account = account();
    userKey(account, 7_000);
    AdminTokenStore.CreatedToken viewer =
        server.adminTokens().create("viewer-" + account, AdminToken.Role.VIEWER);
    browser.signIn(viewer.secret());
    browser.waitForText("#operator", "viewer-" + account);
    openAccount(account);
    browser.waitForText("#acct-available", "7,000");
    assertThat(browser.driver.findElements(By.cssSelector("#grant-form, #block-form, #key-form")))
        .isEmpty();
    browser.open("/console#/price-rules");
    browser.find("#rule-list table");
    assertThat(browser.driver.findElements(By.cssSelector("#rule-form, [data-edit-rule]")))
        .isEmpty();
  }

  @Test
  void theAccountListShowsThisMonthsSpendAndSortsByIt() throws Exception {
    String account = account();
    String key = userKey(account, 100_000);
    assertThat(post("/v1/chat/completions", key, HELLO, Map.of()).statusCode()).isEqualTo(200);
    LedgerEntry charge = theCharge(account);
    signIn();
    browser.open("/console#/accounts");
    browser.find("#account-list table");
    org.openqa.selenium.WebElement row =
        browser.driver.findElement(
            By.xpath("//div[@id='account-list']//tr[td/a[text()='" + account + "']]"));
    List<org.openqa.selenium.WebElement> cells = row.findElements(By.tagName("td"));
    assertThat(cells.get(1).getText()).isEqualTo(String.format("%,d", 100_000 + charge.amount()));
    assertThat(cells.get(3).getText()).isEqualTo(String.format("%,d", -charge.amount()));

    // Sorting by this month's spend, twice: descending puts the biggest spender first.
    browser.click("#account-list th:nth-child(4) button");
    browser.click("#account-list th:nth-child(4) button");
    assertThat(
            browser
                .driver
                .findElement(By.cssSelector("#account-list th:nth-child(4)"))
                .getAttribute("aria-sort"))
        .isEqualTo("descending");
    List<Long> spent =
        browser.driver.findElements(By.cssSelector("#account-list tbody td:nth-child(4)")).stream()
            .map(td -> Long.parseLong(td.getText().replace(",", "")))
            .toList();
    assertThat(spent).isSortedAccordingTo(java.util.Comparator.reverseOrder());
  }

  @Test
  void anAdminTokenMadeInTheConsoleSignsInWithItsRoleUntilRevoked() {
    String name = "viewer-" + account();
    signIn();
    browser.open("/console#/admin-tokens");
    browser.type("#token-name", name);
    browser.click("#token-create");
    browser.confirm();
    String secret = browser.text("#new-secret");
    assertThat(secret).startsWith("cga_");
    browser.waitForText("#token-list", name);

    browser.click("#sign-out");
    browser.signIn(secret);
    browser.waitForText("#operator", name + " (viewer)");
    browser.click("#sign-out");

    signIn();
    browser.open("/console#/admin-tokens");
    browser.click("button[data-revoke-token='" + name + "']");
    browser.confirm();
    browser.waitForText("#token-result", "revoked");
    browser.click("#sign-out");
    browser.signIn(secret);
    assertThat(browser.text("[role=alert]")).contains("not valid");
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

  @Test
  void everyPagePassesAxesWcagAaChecksAtLaptopAndPhoneWidths() throws Exception {
    String account = account();
    userKey(account, 10_000);
    for (int[] size : new int[][] {{1280, 1000}, {390, 844}}) {
      browser.driver.manage().window().setSize(new Dimension(size[0], size[1]));
      browser.driver.manage().deleteAllCookies();
      browser.open("/console/sign-in");
      browser.find("#token");
      assertAccessible("sign-in at " + size[0]);
      signIn();
      for (String page :
          List.of(
              "#/overview",
              "#/accounts",
              "#/accounts/" + account,
              "#/price-rules",
              "#/admin-tokens")) {
        browser.open("/console" + page);
        browser.find("main h1");
        browser.wait.until(
            d ->
                ((JavascriptExecutor) d)
                    .executeScript("return document.readyState")
                    .equals("complete"));
        Thread.sleep(300);
        assertAccessible(page + " at " + size[0]);
        // Nothing but a table's own scroller is wider than the screen.
        assertThat(
                (Boolean)
                    ((JavascriptExecutor) browser.driver)
                        .executeScript(
                            "return document.documentElement.scrollWidth <= window.innerWidth"))
            .as("%s at %d px wide scrolls sideways", page, size[0])
            .isTrue();
      }
    }
    browser.driver.manage().window().setSize(new Dimension(1280, 1000));
  }

  @Test
  void theKeyboardReachesTheContentAndTheNavigation() {
    signIn();
    browser.open("/console#/overview");
    browser.find("main h1");
    // A page focuses its main element once drawn; from there TAB goes into its content (the
    // overview's tables, once its endpoint answers). The walk starts from the top of the page.
    ((JavascriptExecutor) browser.driver)
        .executeScript(
            "document.body.tabIndex = -1; document.body.focus();"
                + " document.body.removeAttribute('tabindex');");
    org.openqa.selenium.WebElement body = browser.driver.findElement(By.tagName("body"));
    body.sendKeys(Keys.TAB);
    org.openqa.selenium.WebElement skip = browser.driver.switchTo().activeElement();
    assertThat(skip.getText()).isEqualTo("Skip to content");
    skip.sendKeys(Keys.TAB);
    org.openqa.selenium.WebElement first = browser.driver.switchTo().activeElement();
    assertThat(first.getText()).isEqualTo("Overview");
    first.sendKeys(Keys.TAB);
    org.openqa.selenium.WebElement accounts = browser.driver.switchTo().activeElement();
    assertThat(accounts.getText()).isEqualTo("Accounts");
    accounts.sendKeys(Keys.ENTER);
    browser.waitForText("main h1", "Accounts");
    assertThat(
            browser
                .driver
                .findElement(By.cssSelector("a[data-page=accounts]"))
                .getAttribute("aria-current"))
        .isEqualTo("page");
  }

  private void assertAccessible(String where) {
    Results results =
        new AxeBuilder()
            .withTags(List.of("wcag2a", "wcag2aa", "wcag21a", "wcag21aa"))
            .analyze(browser.driver);
    assertThat(results.getViolations())
        .as(
            "%s: %s",
            where,
            results.getViolations().stream()
                .map(
                    r ->
                        r.getId()
                            + " "
                            + r.getNodes().stream().map(n -> n.getTarget().toString()).toList())
                .toList())
        .isEmpty();
  }
}

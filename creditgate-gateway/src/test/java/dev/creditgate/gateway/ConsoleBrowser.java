package dev.creditgate.gateway;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Headless Chromium driven by Selenium, from the Debian packages {@code chromium} and {@code
 * chromium-driver} (the CI script installs them): no driver is downloaded.
 */
final class ConsoleBrowser implements AutoCloseable {

  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path DRIVER = Path.of("/usr/bin/chromedriver");

  /** Where screenshots go when {@code -Dcreditgate.screenshots=<dir>} names none: the build's. */
  static final String DEFAULT_SCREENSHOTS = "target/console-screenshots";

  final WebDriver driver;
  final WebDriverWait wait;
  private final String base;

  ConsoleBrowser(String base, int width, int height) {
    if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(DRIVER)) {
      throw new IllegalStateException(
          "the console's browser tests need Chromium and its driver: apt-get install chromium"
              + " chromium-driver");
    }
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=" + width + "," + height);
    ChromeDriverService service =
        new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).build();
    this.driver = new ChromeDriver(service, options);
    this.wait = new WebDriverWait(driver, Duration.ofSeconds(15));
    this.base = base;
  }

  void open(String path) {
    driver.get(base + path);
  }

  WebElement find(String css) {
    return wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(css)));
  }

  void type(String css, String text) {
    WebElement e = find(css);
    e.clear();
    e.sendKeys(text);
  }

  void click(String css) {
    wait.until(ExpectedConditions.elementToBeClickable(By.cssSelector(css))).click();
  }

  /** Confirms the console's confirmation dialog. */
  void confirm() {
    click("#confirm-ok");
    wait.until(ExpectedConditions.invisibilityOfElementLocated(By.cssSelector("#confirm")));
  }

  String text(String css) {
    return find(css).getText();
  }

  void waitForText(String css, String contained) {
    wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector(css), contained));
  }

  void signIn(String token) {
    open("/console/sign-in");
    type("#token", token);
    click("#sign-in");
  }

  /** Saves a screenshot of the page as {@code name}.png in the screenshot directory. */
  void screenshot(String name) throws IOException {
    File shot = ((ChromeDriver) driver).getScreenshotAs(OutputType.FILE);
    Path dir = Path.of(System.getProperty("creditgate.screenshots", DEFAULT_SCREENSHOTS));
    Files.createDirectories(dir);
    Files.copy(shot.toPath(), dir.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public void close() {
    driver.quit();
  }
}

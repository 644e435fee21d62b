package dev.creditgate.gateway.internal;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * The web console at {@code /console}: a sign-in form, the console's page and its scripts, and
 * uPlot's files for the charts. The page's scripts read and change everything through the admin
 * API, as any other client would; what the console adds is the session: signing in with an admin
 * token on the form sets an HttpOnly, SameSite=Strict cookie that the admin API accepts in place of
 * the bearer token ({@link ConsoleSessions#credential}), provided a state-changing request repeats
 * the session's CSRF token in {@link ConsoleSessions#CSRF_HEADER}. Nothing here works without an
 * admin token configured: the gateway registers the console only then.
 */
final class Console {

  static final String PATH = "/console";
  private static final String COOKIE = ConsoleSessions.COOKIE;

  /** Every page and script of the console: only its own files and nothing inline. */
  private static final String CONTENT_SECURITY_POLICY =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          + "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

  private final ConsoleSessions sessions;
  private final Function<String, Optional<AdminPrincipal>> operators;
  private final FailedAuthLimiter failures;
  private final ClientAddresses addresses;
  private final ClasspathFiles assets =
      new ClasspathFiles("dev/creditgate/gateway/console/", PATH + "/assets");
  private final ClasspathFiles uplot =
      ClasspathFiles.webjar("org.webjars.npm", "uplot", "dist/", PATH + "/vendor");
  private final String page;
  private final String signInPage;

  /**
   * @param operators who an admin token belongs to, empty when it is not a valid one
   * @param failures limits failed sign-ins per client address
   */
  Console(
      ConsoleSessions sessions,
      Function<String, Optional<AdminPrincipal>> operators,
      FailedAuthLimiter failures,
      ClientAddresses addresses) {
    this.sessions = sessions;
    this.operators = operators;
    this.failures = failures;
    this.addresses = addresses;
    this.page = assets.text("console.html");
    this.signInPage = assets.text("sign-in.html");
  }

  void register(RoutesConfig routes) {
    routes.get(PATH, this::console);
    routes.get(PATH + "/", this::console);
    routes.get(PATH + "/sign-in", ctx -> signInForm(ctx, 200, ""));
    routes.post(PATH + "/sign-in", this::signIn);
    routes.post(PATH + "/sign-out", this::signOut);
    routes.get(PATH + "/assets/{file}", ctx -> files(ctx, assets));
    routes.get(PATH + "/vendor/{file}", ctx -> files(ctx, uplot));
  }

  private void console(Context ctx) {
    Optional<ConsoleSessions.Session> session = sessions.find(ctx.cookie(COOKIE));
    Optional<AdminPrincipal> operator = session.flatMap(s -> operators.apply(s.credential()));
    if (operator.isEmpty()) {
      session.ifPresent(s -> sessions.end(s.id()));
      ctx.status(303).header("Location", PATH + "/sign-in");
      return;
    }
    html(ctx, 200)
        .result(
            page.replace("{{csrf}}", session.get().csrfToken())
                .replace("{{operator}}", escape(operator.get().name()))
                .replace("{{role}}", operator.get().role().apiName()));
  }

  private void signIn(Context ctx) {
    if (!sameOrigin(ctx)) {
      signInForm(ctx, 403, "The sign-in came from another site and was refused.");
      return;
    }
    String address = addresses.of(ctx);
    long wait = failures.waitSeconds(address);
    if (wait > 0) {
      ctx.header("Retry-After", Long.toString(wait));
      signInForm(ctx, 429, "Too many failed sign-ins; try again in " + wait + " s.");
      return;
    }
    String token = ctx.formParam("token");
    token = token == null ? "" : token.trim();
    Optional<AdminPrincipal> operator =
        token.isEmpty() || token.length() > 512 ? Optional.empty() : operators.apply(token);
    if (operator.isEmpty()) {
      failures.failed(address);
      signInForm(ctx, 401, "That admin token is not valid.");
      return;
    }
    ConsoleSessions.Session s = sessions.begin(token);
    ctx.header("Set-Cookie", cookie(ctx, s.id(), sessions.ttl().toSeconds()));
    ctx.status(303).header("Location", PATH);
  }

  private void signOut(Context ctx) {
    Optional<ConsoleSessions.Session> session = sessions.find(ctx.cookie(COOKIE));
    if (session.isPresent()) {
      if (!session.get().csrfMatches(ctx.formParam("csrf"))) {
        signInForm(ctx, 403, "The sign-out did not carry the console's CSRF token.");
        return;
      }
      sessions.end(session.get().id());
    }
    ctx.header("Set-Cookie", cookie(ctx, "", 0));
    ctx.status(303).header("Location", PATH + "/sign-in");
  }

  private void signInForm(Context ctx, int status, String error) {
    html(ctx, status)
        .result(
            signInPage.replace(
                "{{error}}",
                error.isEmpty()
                    ? ""
                    : "<p class=\"error\" role=\"alert\">" + escape(error) + "</p>"));
  }

  private static void files(Context ctx, ClasspathFiles files) throws java.io.IOException {
    files.serve(ctx, ctx.pathParam("file"));
    ctx.header("Cache-Control", "no-cache").header("X-Content-Type-Options", "nosniff");
  }

  private static Context html(Context ctx, int status) {
    return ctx.status(status)
        .contentType("text/html; charset=utf-8")
        .header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "same-origin")
        .header("Cache-Control", "no-store");
  }

  /**
   * A form post whose Origin header, when the browser sends one, names this host: another site's
   * page cannot sign a visitor in (the cookie's SameSite=Strict covers every other request).
   */
  private static boolean sameOrigin(Context ctx) {
    String origin = ctx.header("Origin");
    if (origin == null || origin.isEmpty()) {
      return true;
    }
    String host = ctx.header("Host");
    return host != null
        && (origin.equalsIgnoreCase("http://" + host)
            || origin.equalsIgnoreCase("https://" + host));
  }

  /** The session cookie; Secure when the request came over HTTPS (directly or via a proxy). */
  private static String cookie(Context ctx, String value, long maxAgeSeconds) {
    String proto = ctx.header("X-Forwarded-Proto");
    boolean secure =
        ctx.req().isSecure()
            || (proto != null && proto.trim().toLowerCase(Locale.ROOT).equals("https"));
    return COOKIE
        + "="
        + value
        + "; Path=/; Max-Age="
        + maxAgeSeconds
        + "; HttpOnly; SameSite=Strict"
        + (secure ? "; Secure" : "");
  }

  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '&' -> b.append("&amp;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&#39;");
        default -> b.append(c);
      }
    }
    return b.toString();
  }
}

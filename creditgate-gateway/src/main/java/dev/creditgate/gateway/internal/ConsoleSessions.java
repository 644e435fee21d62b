package dev.creditgate.gateway.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.creditgate.gateway.ApiError;
import io.javalin.http.Context;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The console's signed-in sessions, in this process's memory: a session is a random id (the
 * cookie's value) naming the admin credential it signed in with and a CSRF token that every
 * state-changing request must repeat in a header. A session ends when signed out or {@code ttl}
 * after it began, whichever is first; at most {@code maxSessions} are kept (the oldest go first),
 * so memory is bounded however many sign-ins arrive. Sessions do not survive a restart: operators
 * sign in again.
 */
final class ConsoleSessions {

  /** The cookie holding a session's id. */
  static final String COOKIE = "creditgate_console";

  /** The header in which a state-changing request repeats its session's CSRF token. */
  static final String CSRF_HEADER = "X-CSRF-Token";

  /** Methods that change nothing, allowed on a session without the CSRF token. */
  private static final Set<String> SAFE_METHODS = Set.of("GET", "HEAD", "OPTIONS");

  /** How long a session lasts. */
  static final Duration DEFAULT_TTL = Duration.ofHours(8);

  /** Sessions kept at most. */
  static final long DEFAULT_MAX_SESSIONS = 10_000;

  /** Random bytes in a session id and in a CSRF token. */
  private static final int SECRET_BYTES = 32;

  /**
   * One signed-in session.
   *
   * @param id the cookie's value
   * @param csrfToken what state-changing requests repeat in {@link #CSRF_HEADER}
   * @param credential the admin token it signed in with, checked again on every request so that a
   *     revoked token ends its sessions
   */
  record Session(String id, String csrfToken, String credential) {

    /** Whether {@code presented} is this session's CSRF token, in constant time. */
    boolean csrfMatches(String presented) {
      return presented != null
          && MessageDigest.isEqual(
              presented.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
              csrfToken.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Override
    public String toString() {
      return "Session[...]";
    }
  }

  private final SecureRandom random = new SecureRandom();
  private final Cache<String, Session> sessions;
  private final Duration ttl;

  ConsoleSessions(Duration ttl, long maxSessions, Ticker ticker) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, but was " + ttl);
    }
    this.ttl = ttl;
    this.sessions =
        Caffeine.newBuilder().maximumSize(maxSessions).expireAfterWrite(ttl).ticker(ticker).build();
  }

  Duration ttl() {
    return ttl;
  }

  /** Begins a session for {@code credential}. */
  Session begin(String credential) {
    Session s = new Session(secret(), secret(), Objects.requireNonNull(credential, "credential"));
    sessions.put(s.id(), s);
    return s;
  }

  /** The live session with {@code id}, if any. */
  Optional<Session> find(String id) {
    return id == null || id.isEmpty()
        ? Optional.empty()
        : Optional.ofNullable(sessions.getIfPresent(id));
  }

  /**
   * The admin credential of the request's session, if its cookie names a live one: an admin request
   * that carries no bearer token is authorized with it.
   *
   * @throws ApiError 403 when a state-changing request has a session but not its CSRF token
   */
  Optional<String> credential(Context ctx) {
    Optional<Session> session = find(ctx.cookie(COOKIE));
    if (session.isEmpty()) {
      return Optional.empty();
    }
    if (!SAFE_METHODS.contains(ctx.method().name())
        && !session.get().csrfMatches(ctx.header(CSRF_HEADER))) {
      throw new ApiError(
          403,
          "permission_error",
          "invalid_csrf_token",
          "a state-changing request from the console must carry its CSRF token in the "
              + CSRF_HEADER
              + " header",
          CSRF_HEADER);
    }
    return Optional.of(session.get().credential());
  }

  /** Ends the session with {@code id}; nothing when there is none. */
  void end(String id) {
    if (id != null) {
      sessions.invalidate(id);
    }
  }

  long size() {
    sessions.cleanUp();
    return sessions.estimatedSize();
  }

  private String secret() {
    byte[] b = new byte[SECRET_BYTES];
    random.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}

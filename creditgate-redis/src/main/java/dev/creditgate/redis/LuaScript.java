package dev.creditgate.redis;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A Lua script with its SHA-1 digest, the name EVALSHA runs it by. */
record LuaScript(String name, String body, String sha) {

  /**
   * Stores a snapshot unless the stored one has the same or a higher version, then announces the
   * write on the invalidation channel. Versions are compared as decimal strings (length, then text)
   * so they stay exact beyond Lua's 2^53 number precision. KEYS[1] snapshot key; ARGV: version,
   * encoded snapshot, ttl ms, channel ('' for none), account.
   */
  static final LuaScript PUT_SNAPSHOT =
      of(
          "put-snapshot",
          """
      local current = redis.call('GET', KEYS[1])
      if current then
        local stored = string.match(current, '^1|(%d+)|')
        if stored then
          local incoming = ARGV[1]
          if #stored > #incoming or (#stored == #incoming and stored >= incoming) then
            return 0
          end
        end
      end
      redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
      if ARGV[4] ~= '' then
        redis.call('PUBLISH', ARGV[4], ARGV[5])
      end
      return 1
      """);

  /** KEYS[1] marker key; ARGV: version, ttl ms, channel ('' for none), account. */
  static final LuaScript SET_BLOCKED =
      of(
          "set-blocked",
          """
      redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
      if ARGV[3] ~= '' then
        redis.call('PUBLISH', ARGV[3], ARGV[4])
      end
      return 1
      """);

  /**
   * Deletes KEYS (the marker, or the marker and the snapshot); ARGV: channel ('' for none),
   * account.
   */
  static final LuaScript DELETE =
      of(
          "delete",
          """
      redis.call('DEL', unpack(KEYS))
      if ARGV[1] ~= '' then
        redis.call('PUBLISH', ARGV[1], ARGV[2])
      end
      return 1
      """);

  static LuaScript of(String name, String body) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-1").digest(body.getBytes(StandardCharsets.UTF_8));
      return new LuaScript(name, body, HexFormat.of().formatHex(digest));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required of every JVM", e);
    }
  }
}

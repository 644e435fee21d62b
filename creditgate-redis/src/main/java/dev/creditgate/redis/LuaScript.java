package dev.creditgate.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.slf4j.LoggerFactory;

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

  /**
   * An account's state in one step: the snapshot as {@link #PUT_SNAPSHOT} stores it (unless the
   * stored one has the same or a higher version), then the blocked marker set at the snapshot's
   * version ('set') or removed ('clear'), then one announcement. Returns 1 when the snapshot was
   * stored. KEYS[1] snapshot key, KEYS[2] marker key; ARGV: version, encoded snapshot, snapshot ttl
   * ms, 'set' or 'clear', marker ttl ms, channel ('' for none), account.
   */
  static final LuaScript PUT_STATE =
      of(
          "put-state",
          """
      local stored = 1
      local current = redis.call('GET', KEYS[1])
      if current then
        local version = string.match(current, '^1|(%d+)|')
        if version then
          local incoming = ARGV[1]
          if #version > #incoming or (#version == #incoming and version >= incoming) then
            stored = 0
          end
        end
      end
      if stored == 1 then
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
      end
      if ARGV[4] == 'set' then
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
      else
        redis.call('DEL', KEYS[2])
      end
      if ARGV[6] ~= '' then
        redis.call('PUBLISH', ARGV[6], ARGV[7])
      end
      return stored
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

  /**
   * Runs the script by EVALSHA, and on NOSCRIPT (a restarted or flushed server) by EVAL, which
   * caches it again.
   */
  <T> CompletionStage<T> run(
      RedisClusterAsyncCommands<String, String> commands, String[] keys, String... args) {
    CompletableFuture<T> sha =
        commands.<T>evalsha(sha(), ScriptOutputType.INTEGER, keys, args).toCompletableFuture();
    return sha.exceptionallyCompose(
        error -> {
          Throwable cause = BoundedCalls.unwrap(error);
          if (cause instanceof RedisNoScriptException
              || (cause.getMessage() != null && cause.getMessage().startsWith("NOSCRIPT"))) {
            return commands
                .<T>eval(body(), ScriptOutputType.INTEGER, keys, args)
                .toCompletableFuture();
          }
          return CompletableFuture.failedFuture(cause);
        });
  }

  /**
   * Loads every script once, in the background; {@link #run} falls back to EVAL if this has not
   * landed.
   */
  static void preloadAll(RedisClusterAsyncCommands<String, String> commands) {
    for (LuaScript script : new LuaScript[] {PUT_STATE, PUT_SNAPSHOT, SET_BLOCKED, DELETE}) {
      commands
          .scriptLoad(script.body())
          .whenComplete(
              (sha, error) -> {
                if (error != null) {
                  LoggerFactory.getLogger(RedisCreditCache.class)
                      .debug(
                          "preloading redis script {} failed: {}", script.name(), error.toString());
                }
              });
    }
  }
}

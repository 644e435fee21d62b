package dev.creditgate.gateway;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Typed reads of the configuration's flat keys, each error naming the key and value. */
record ConfigReader(Map<String, String> props) {

  String string(String key, String def) {
    String v = props.get(key);
    return v == null ? def : v.trim();
  }

  boolean bool(String key, boolean def) {
    String v = props.get(key);
    if (v == null || v.isBlank()) {
      return def;
    }
    return switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on", "1" -> true;
      case "false", "no", "off", "0" -> false;
      default -> throw new ConfigException(key + " must be true or false, but was '" + v + "'");
    };
  }

  /** One of an enum's constants, named in lower case with '-' for '_'. */
  <E extends Enum<E>> E choice(String key, E def) {
    String v = props.get(key);
    if (v == null || v.isBlank()) {
      return def;
    }
    String wanted = v.trim().toUpperCase(Locale.ROOT).replace('-', '_');
    for (E constant : def.getDeclaringClass().getEnumConstants()) {
      if (constant.name().equals(wanted)) {
        return constant;
      }
    }
    List<String> names = new java.util.ArrayList<>();
    for (E constant : def.getDeclaringClass().getEnumConstants()) {
      names.add(constant.name().toLowerCase(Locale.ROOT).replace('_', '-'));
    }
    throw new ConfigException(
        key + " must be one of " + String.join(", ", names) + ", but was '" + v + "'");
  }

  long longIn(String key, long def, long min, long max) {
    String v = props.get(key);
    if (v == null || v.isBlank()) {
      return def;
    }
    long parsed;
    try {
      parsed = Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new ConfigException(key + " must be an integer, but was '" + v + "'");
    }
    if (parsed < min || parsed > max) {
      throw new ConfigException(
          key + " must be between " + min + " and " + max + ", but was " + parsed);
    }
    return parsed;
  }

  /**
   * A comma-separated list of names (empty by default), each trimmed and 1 to {@code maxLength}
   * printable ASCII characters.
   */
  List<String> names(String key, int maxLength) {
    String v = props.get(key);
    List<String> names = new java.util.ArrayList<>();
    if (v == null || v.isBlank()) {
      return names;
    }
    for (String part : v.split(",", -1)) {
      String name = part.trim();
      if (name.isEmpty()
          || name.length() > maxLength
          || !name.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
        throw new ConfigException(
            key
                + " must be a list of names of 1-"
                + maxLength
                + " printable ASCII characters, but was '"
                + v
                + "'");
      }
      names.add(name);
    }
    return names;
  }

  /**
   * Durations as {@code 250ms}, {@code 5s}, {@code 2m} or ISO-8601 ({@code PT5S}); must be
   * positive.
   */
  Duration duration(String key, Duration def) {
    Duration d = parsed(key, def);
    if (d.isZero() || d.isNegative()) {
      throw new ConfigException(key + " must be positive, but was '" + props.get(key) + "'");
    }
    return d;
  }

  /** A duration that may be zero (the option's "off"). */
  Duration durationOrZero(String key, Duration def) {
    Duration d = parsed(key, def);
    if (d.isNegative()) {
      throw new ConfigException(
          key + " must be zero or positive, but was '" + props.get(key) + "'");
    }
    return d;
  }

  private Duration parsed(String key, Duration def) {
    String v = props.get(key);
    if (v == null || v.isBlank()) {
      return def;
    }
    Duration d = GatewayConfig.parseDuration(v.trim());
    if (d == null) {
      throw new ConfigException(
          key + " must be a duration like 250ms, 5s, 2m or PT5S, but was '" + v + "'");
    }
    return d;
  }
}

package dev.creditgate.gateway.internal;

import io.javalin.http.Context;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The client address a request is counted under: the socket's peer, or, behind a reverse proxy that
 * sets it, the last value of a configured header ({@code X-Forwarded-For}, {@code X-Real-IP}). An
 * IPv6 address counts as its /64, which one host usually holds whole; a header value that is not an
 * IP address literal is ignored (the socket's peer counts), and none is ever looked up in DNS.
 */
final class ClientAddresses {

  private static final Pattern IPV4 =
      Pattern.compile(
          "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");
  private static final Pattern IPV6 = Pattern.compile("[0-9a-fA-F:][0-9a-fA-F:.]{1,44}");

  /** The header naming the client; empty: the socket's peer. */
  private final String header;

  ClientAddresses(String header) {
    this.header = header;
  }

  String of(Context ctx) {
    return resolve(header.isEmpty() ? null : ctx.header(header), ctx.req().getRemoteAddr());
  }

  /**
   * The address counted for a request whose header holds {@code headerValue} (null when absent or
   * not configured) and whose socket's peer is {@code peer}.
   */
  static String resolve(String headerValue, String peer) {
    if (headerValue != null) {
      int comma = headerValue.lastIndexOf(',');
      String last = headerValue.substring(comma + 1).trim();
      String grouped = group(last);
      if (grouped != null) {
        return grouped;
      }
    }
    String grouped = group(peer == null ? "" : peer.trim());
    return grouped != null ? grouped : "unknown";
  }

  /** An IPv4 address as it is, an IPv6 one as its /64; null when {@code s} is neither. */
  static String group(String s) {
    String literal =
        s.length() > 1 && s.startsWith("[") && s.endsWith("]") ? s.substring(1, s.length() - 1) : s;
    if (IPV4.matcher(literal).matches()) {
      return literal;
    }
    if (!literal.contains(":") || !IPV6.matcher(literal).matches()) {
      return null;
    }
    InetAddress address;
    try {
      // A literal that starts with a hex digit or a colon and holds a colon is parsed, never
      // resolved.
      address = InetAddress.getByName(literal);
    } catch (UnknownHostException e) {
      return null;
    }
    if (address instanceof Inet4Address) {
      return address.getHostAddress();
    }
    byte[] bytes = address.getAddress();
    StringBuilder prefix = new StringBuilder();
    for (int i = 0; i < 8; i += 2) {
      prefix
          .append(HexFormat.of().toHexDigits(bytes[i]))
          .append(HexFormat.of().toHexDigits(bytes[i + 1]))
          .append(':');
    }
    return prefix.append(":/64").toString();
  }
}

package dev.creditgate.ledger;

/** JSON string literals for the few metadata fields the ledger API writes itself. */
final class JsonText {

  private JsonText() {}

  /**
   * Appends {@code value} as a JSON string literal (quotes, backslashes and control characters
   * escaped).
   */
  static void quote(String value, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  static String quote(String value) {
    StringBuilder out = new StringBuilder(value.length() + 2);
    quote(value, out);
    return out.toString();
  }
}

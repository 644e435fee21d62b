package dev.creditgate.ledger.jdbc;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * The lines of the write-behind journal. Each is one record, its fields tab-separated, the last a
 * CRC-32 of the rest, so a torn or damaged line is detected and skipped. The first field names the
 * record: {@link #HEADER} (the boot id and process of the file's writer), {@link #INTENT} (a call's
 * estimate), {@link #CHARGE} (the intent's event id, then the charge) or {@link #VOID} (an intent
 * ended without a charge).
 */
final class JournalFormat {

  static final String HEADER = "H";
  static final String INTENT = "I";
  static final String CHARGE = "C";
  static final String VOID = "V";

  private JournalFormat() {}

  /** The payload followed by its checksum. */
  static String frame(String payload) {
    return payload + "\t" + SpoolRecord.crc(payload);
  }

  /** The payload of a framed line, or null when its checksum fails. */
  static String unframe(String line) {
    int tab = line.lastIndexOf('\t');
    if (tab < 0 || !line.substring(tab + 1).equals(SpoolRecord.crc(line.substring(0, tab)))) {
      return null;
    }
    return line.substring(0, tab);
  }

  /** A field free of tabs and newlines. */
  static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  static String decode(String value) {
    return URLDecoder.decode(value, StandardCharsets.UTF_8);
  }
}

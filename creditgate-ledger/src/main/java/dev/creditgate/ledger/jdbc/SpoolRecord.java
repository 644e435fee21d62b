package dev.creditgate.ledger.jdbc;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32;

/**
 * One spooled charge: the request, the price quoted when it was spooled ({@code null} when the
 * price rules could not be read then; it is priced on replay), when it was spooled, and the lease
 * holder whose lease held the call's credit ({@code ""} when none did: the call was not held
 * against a lease).
 *
 * <p>On disk it is one line: tab-separated, URL-encoded fields, the first being the format version,
 * the last a CRC-32 of the rest, so a torn or damaged line is detected and skipped. Lines of the
 * earlier format {@code c1}, without the lease holder, are read too.
 */
record SpoolRecord(Instant spooledAt, ChargeRequest request, Quote quote, String leaseHolder) {

  static final String FORMAT = "c2";
  private static final String FORMAT_WITHOUT_HOLDER = "c1";
  private static final int FIELDS = 20;

  SpoolRecord {
    leaseHolder = leaseHolder == null ? "" : leaseHolder;
  }

  /** A record of a call not held against a lease. */
  SpoolRecord(Instant spooledAt, ChargeRequest request, Quote quote) {
    this(spooledAt, request, quote, "");
  }

  String encode() {
    ChargeRequest r = request;
    Usage u = r.usage();
    List<String> fields =
        List.of(
            FORMAT,
            Long.toString(spooledAt.toEpochMilli()),
            r.accountId(),
            r.eventId(),
            r.requestId(),
            r.scene(),
            r.provider(),
            r.model(),
            Long.toString(u.inputTokens()),
            Long.toString(u.outputTokens()),
            Long.toString(u.cachedTokens()),
            Long.toString(u.reasoningTokens()),
            r.estimated() ? "1" : "0",
            r.metadata(),
            quote == null ? "-" : Long.toString(quote.costMicros()),
            quote == null ? "-" : Long.toString(quote.credits()),
            quote == null ? "-" : Long.toString(quote.ruleId()),
            quote == null ? "-" : (quote.unpriced() ? "1" : "0"),
            leaseHolder);
    StringBuilder line = new StringBuilder();
    for (String field : fields) {
      line.append(URLEncoder.encode(field, StandardCharsets.UTF_8)).append('\t');
    }
    line.append(crc(line.toString()));
    return line.toString();
  }

  /**
   * Parses a line written by {@link #encode}.
   *
   * @throws IllegalArgumentException when the line is torn, damaged or of an unknown format
   */
  static SpoolRecord decode(String line) {
    int lastTab = line.lastIndexOf('\t');
    if (lastTab < 0 || !line.substring(lastTab + 1).equals(crc(line.substring(0, lastTab + 1)))) {
      throw new IllegalArgumentException("spool line fails its checksum");
    }
    String[] raw = line.split("\t", -1);
    List<String> f = new ArrayList<>(FIELDS);
    for (String field : raw) {
      f.add(URLDecoder.decode(field, StandardCharsets.UTF_8));
    }
    int expected =
        switch (f.get(0)) {
          case FORMAT -> FIELDS;
          case FORMAT_WITHOUT_HOLDER -> FIELDS - 1;
          default ->
              throw new IllegalArgumentException(
                  "spool line has unknown format '" + f.get(0) + "'");
        };
    if (raw.length != expected) {
      throw new IllegalArgumentException(
          "spool line has " + raw.length + " fields, expected " + expected);
    }
    Usage usage =
        new Usage(
            Long.parseLong(f.get(8)),
            Long.parseLong(f.get(9)),
            Long.parseLong(f.get(10)),
            Long.parseLong(f.get(11)));
    ChargeRequest request =
        new ChargeRequest(
            f.get(2),
            f.get(3),
            f.get(4),
            f.get(5),
            f.get(6),
            f.get(7),
            usage,
            f.get(12).equals("1"),
            f.get(13));
    Quote quote =
        f.get(14).equals("-")
            ? null
            : new Quote(
                Long.parseLong(f.get(14)),
                Long.parseLong(f.get(15)),
                Long.parseLong(f.get(16)),
                f.get(17).equals("1"));
    return new SpoolRecord(
        Instant.ofEpochMilli(Long.parseLong(f.get(1))),
        request,
        quote,
        expected == FIELDS ? f.get(18) : "");
  }

  /** The CRC-32 of the text's UTF-8 bytes as 8 lowercase hex digits (spool and journal lines). */
  static String crc(String text) {
    CRC32 crc = new CRC32();
    crc.update(text.getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().toHexDigits((int) crc.getValue());
  }
}

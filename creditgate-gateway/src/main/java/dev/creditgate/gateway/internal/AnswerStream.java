package dev.creditgate.gateway.internal;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Watches one streamed answer as {@link StreamAnswer} relays it: reads its usage and output as they
 * pass, takes out of the stream what must wait for the call's charge (the events that close it),
 * and writes those, with the charge, once the call is settled. Used by one call's thread.
 */
interface AnswerStream {

  /**
   * Reads the next bytes from the upstream and writes to {@code client} what it may have now. Once
   * the stream has more pieces of output than the call's output budget allows tokens, and has not
   * closed, nothing more is relayed, not even the rest of these bytes: the stream is {@link
   * #cutOff()}.
   *
   * @param client the client's stream, or null once the client has left (the bytes are still read)
   * @throws IOException only from writing to {@code client}: the client left
   */
  void feed(byte[] buf, int off, int len, OutputStream client) throws IOException;

  /** Writes what is still pending (an incomplete last line) once the upstream's stream ended. */
  void finish(OutputStream client) throws IOException;

  /** What the stream said of its usage so far. */
  UsageParser.Report usageReport();

  /**
   * The pieces of output seen (non-empty text deltas). A provider sends a token per piece at least,
   * so an upstream that keeps to its cap sends no more pieces than the cap allows tokens.
   */
  long outputPieces();

  /** Whether the stream has closed: its closing usage or end marker came. */
  boolean closed();

  /**
   * Whether the upstream sent more output than the call's budget pays for (it ignores its cap): the
   * relay stopped before the piece past the budget.
   */
  boolean cutOff();

  /** The output text kept for an estimate. */
  String text();

  /** Characters of output text not kept (beyond the kept window). */
  long textDropped();

  /**
   * What ends a settled stream: the closing events held back, with the charge.
   *
   * @param charge the call's charge ({@link SettleUsage.Charge#NONE} when it was not charged)
   */
  byte[] end(CallExchange x, SettleUsage.Charge charge);

  /** What ends a stream the gateway cut off at its output cap, with the charge. */
  byte[] cutOff(CallExchange x, SettleUsage.Charge charge);
}

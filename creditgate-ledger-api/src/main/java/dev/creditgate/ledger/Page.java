package dev.creditgate.ledger;

import java.util.List;

/**
 * One page of a listing, newest first.
 *
 * @param nextCursor pass to get the next page; {@code null} on the last page
 */
public record Page<T>(List<T> items, String nextCursor) {

  public Page {
    items = List.copyOf(items);
  }
}

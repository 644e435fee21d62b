package dev.creditgate;

/**
 * What one {@link CreditCache#lookup} read found for an account: its blocked marker and its balance
 * snapshot, read together.
 *
 * @param markerVersion the snapshot version the blocked marker was set for, or {@link #NO_MARKER}
 *     when there is no marker
 * @param snapshot the cached snapshot, or {@code null} when there is none
 */
public record CacheLookup(long markerVersion, CreditSnapshot snapshot) {

  /** The marker version that means "no blocked marker". */
  public static final long NO_MARKER = -1;

  /** Nothing cached. */
  public static final CacheLookup EMPTY = new CacheLookup(NO_MARKER, null);

  public CacheLookup {
    if (markerVersion < NO_MARKER) {
      throw new IllegalArgumentException("markerVersion must be >= -1, but was " + markerVersion);
    }
  }

  public boolean hasMarker() {
    return markerVersion != NO_MARKER;
  }

  /**
   * Whether the blocked marker applies. A marker set for an older snapshot version than the cached
   * snapshot is stale (the account changed since, e.g. a top-up) and is ignored.
   */
  public boolean markerApplies() {
    return hasMarker() && (snapshot == null || markerVersion >= snapshot.version());
  }
}

package dev.creditgate.meter;

/** Where a settled call's usage came from. */
public enum UsageSource {
  /** The upstream reported it. */
  REPORTED,
  /** The upstream reported none; the gateway estimated it from what it relayed. */
  ESTIMATED
}

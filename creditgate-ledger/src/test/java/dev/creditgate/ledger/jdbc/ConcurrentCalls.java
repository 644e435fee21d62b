package dev.creditgate.ledger.jdbc;

import dev.creditgate.BillingContext;
import dev.creditgate.ledger.LedgerCreditMeter;
import dev.creditgate.meter.Estimate;
import dev.creditgate.meter.MeteredCall;
import dev.creditgate.meter.UsageSource;
import dev.creditgate.pricing.Usage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/** Calls opened all at once, as a user trying to spend more than they have would open them. */
final class ConcurrentCalls {

  private ConcurrentCalls() {}

  /**
   * Opens {@code calls} calls at once, spread over {@code meters} in turn; once every call was
   * opened, each admitted one settles with {@code usage}. Returns how many were admitted.
   */
  static int openTogether(
      List<LedgerCreditMeter> meters,
      int calls,
      Supplier<BillingContext> context,
      Estimate estimate,
      Usage usage)
      throws Exception {
    CountDownLatch allOpened = new CountDownLatch(calls);
    List<Future<Boolean>> results = new ArrayList<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < calls; i++) {
        LedgerCreditMeter meter = meters.get(i % meters.size());
        results.add(
            pool.submit(
                () -> {
                  try (MeteredCall c = meter.open(context.get(), estimate)) {
                    allOpened.countDown();
                    if (c.admission().isDenied()) {
                      return false;
                    }
                    allOpened.await();
                    c.settle(usage, UsageSource.REPORTED);
                    return true;
                  }
                }));
      }
      int admitted = 0;
      for (Future<Boolean> f : results) {
        admitted += f.get() ? 1 : 0;
      }
      return admitted;
    }
  }
}

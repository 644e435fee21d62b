package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.creditgate.gateway.ApiError;
import dev.creditgate.gateway.ApiKey;
import dev.creditgate.gateway.GatewayLimits;
import dev.creditgate.gateway.internal.Authenticator.Principal;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CallSlotsTest {

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  private CallSlots slots(int perKey, int perServiceKey, int perAccount) {
    return new CallSlots(
        new GatewayLimits(perKey, perServiceKey, perAccount), new GatewayMetrics(registry));
  }

  private static Principal user(String keyId, String account) {
    return new Principal(key(keyId, ApiKey.Kind.USER, account), account, false);
  }

  private static Principal service(String keyId, String account) {
    return new Principal(key(keyId, ApiKey.Kind.SERVICE, ""), account, false);
  }

  private static ApiKey key(String id, ApiKey.Kind kind, String account) {
    return new ApiKey(id, "cgk_abcdef", kind, account, "", Instant.EPOCH, null);
  }

  private static void assertRefused(Runnable call, String says) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            ApiError.class,
            e -> {
              assertThat(e.status()).isEqualTo(429);
              assertThat(e.type()).isEqualTo("rate_limit_error");
              assertThat(e.code()).isEqualTo("too_many_concurrent_requests");
              assertThat(e.retryAfterSeconds()).isEqualTo(1);
              assertThat(e.getMessage()).contains(says);
            });
  }

  @Test
  void aSlotIsGivenBackOnceHoweverOftenItIsClosed() {
    CallSlots slots = slots(2, 0, 2);
    CallSlots.Slot first = slots.acquire(user("k1", "acme"));
    CallSlots.Slot second = slots.acquire(user("k1", "acme"));
    assertRefused(() -> slots.acquire(user("k1", "acme")), "API key");
    first.close();
    first.close();
    first.close();
    assertThat(slots.held("key")).isEqualTo(1);
    assertThat(slots.held("account")).isEqualTo(1);
    // The closes of the first slot did not give back the second's.
    CallSlots.Slot third = slots.acquire(user("k1", "acme"));
    assertRefused(() -> slots.acquire(user("k1", "acme")), "API key");
    second.close();
    third.close();
    assertThat(slots.held("key")).isZero();
    assertThat(slots.held("account")).isZero();
  }

  @Test
  void anAccountIsLimitedAcrossItsKeysAndARefusalHoldsNothing() {
    CallSlots slots = slots(2, 0, 3);
    List<CallSlots.Slot> held = new ArrayList<>();
    held.add(slots.acquire(user("k1", "acme")));
    held.add(slots.acquire(user("k1", "acme")));
    held.add(slots.acquire(user("k2", "acme")));
    assertRefused(() -> slots.acquire(user("k2", "acme")), "account 'acme'");
    assertThat(slots.held("key")).as("the refused call's key slot was given back").isEqualTo(3);
    held.add(slots.acquire(user("k3", "other")));
    held.forEach(CallSlots.Slot::close);
    assertThat(slots.held("key")).isZero();
    assertThat(slots.held("account")).isZero();
    assertThat(
            registry
                .find("creditgate.calls.refused.concurrency")
                .tag("scope", "account")
                .counter()
                .count())
        .isEqualTo(1.0);
  }

  @Test
  void serviceKeysHaveTheirOwnLimitAndZeroMeansNone() {
    CallSlots slots = slots(1, 0, 2);
    List<CallSlots.Slot> held = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      // No limit per service key; each account it names has its own.
      held.add(slots.acquire(service("svc", "acct-" + (i / 2))));
    }
    assertRefused(() -> slots.acquire(service("svc", "acct-0")), "account 'acct-0'");
    held.forEach(CallSlots.Slot::close);
    CallSlots limited = slots(0, 1, 0);
    CallSlots.Slot one = limited.acquire(service("svc", "a"));
    assertRefused(() -> limited.acquire(service("svc", "b")), "API key");
    for (int i = 0; i < 100; i++) {
      held.add(limited.acquire(user("k1", "acme")));
    }
    one.close();
    held.forEach(CallSlots.Slot::close);
    assertThat(limited.held("key")).isZero();
    assertThat(limited.held("account")).isZero();
  }

  @Test
  void manyThreadsNeverExceedTheLimitAndLeaveNothingHeld() throws Exception {
    CallSlots slots = slots(0, 0, 4);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    try (var pool = Executors.newFixedThreadPool(16)) {
      for (int t = 0; t < 16; t++) {
        int thread = t;
        done.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < 300; i++) {
                    try (CallSlots.Slot slot = slots.acquire(user("k" + thread, "acme"))) {
                      most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                      // Held a while, so that the other threads find the limit reached.
                      java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                      inside.decrementAndGet();
                    } catch (ApiError e) {
                      refused.incrementAndGet();
                    }
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    }
    assertThat(most.get()).isBetween(1, 4);
    // Whether threads met at the limit depends on the scheduler: counted, not required.
    assertThat(refused.get()).isNotNegative();
    assertThat(slots.held("key")).isZero();
    assertThat(slots.held("account")).isZero();
  }
}

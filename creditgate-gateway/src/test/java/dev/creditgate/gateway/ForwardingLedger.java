package dev.creditgate.gateway;

import dev.creditgate.ledger.CreditLedger;
import dev.creditgate.ledger.MeteringLedger;
import dev.creditgate.ledger.PriceBook;
import dev.creditgate.ledger.jdbc.JdbcCreditLedger;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

/**
 * A ledger with just the roles a gateway requires, each call forwarded to a real one: the real
 * one's other roles (credit policies, leases, the spend series) are hidden from the gateway.
 */
final class ForwardingLedger {

  interface Required extends CreditLedger, MeteringLedger, PriceBook {}

  private ForwardingLedger() {}

  /**
   * Forwards every call to {@code real}; a call of {@code failing} throws {@code error} instead.
   */
  static Required of(JdbcCreditLedger real, String failing, RuntimeException error) {
    return (Required)
        Proxy.newProxyInstance(
            ForwardingLedger.class.getClassLoader(),
            new Class<?>[] {Required.class},
            (proxy, method, args) -> {
              if (method.getName().equals(failing)) {
                throw error;
              }
              try {
                return method.invoke(real, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  /** Forwards every call to {@code real}. */
  static Required of(JdbcCreditLedger real) {
    return of(real, null, null);
  }
}

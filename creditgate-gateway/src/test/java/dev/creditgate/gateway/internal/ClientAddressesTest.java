package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ClientAddressesTest {

  @Test
  void theSocketsPeerCountsWithoutAHeader() {
    assertThat(ClientAddresses.resolve(null, "203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(ClientAddresses.resolve(null, "[::1]")).isEqualTo("0000:0000:0000:0000::/64");
  }

  @Test
  void anIpv6HostCountsAsItsSlash64() {
    String a = ClientAddresses.resolve(null, "2001:db8:1:2:aaaa::1");
    String b = ClientAddresses.resolve(null, "2001:0db8:0001:0002:bbbb:cccc:dddd:eeee");
    assertThat(a).isEqualTo("2001:0db8:0001:0002::/64").isEqualTo(b);
    assertThat(ClientAddresses.resolve(null, "2001:db8:1:3::1")).isNotEqualTo(a);
    assertThat(ClientAddresses.resolve(null, "::ffff:198.51.100.4")).isEqualTo("198.51.100.4");
  }

  @Test
  void theHeadersLastValueCountsWhenItIsAnAddress() {
    assertThat(ClientAddresses.resolve("198.51.100.1, 203.0.113.9", "10.0.0.1"))
        .isEqualTo("203.0.113.9");
    assertThat(ClientAddresses.resolve("2001:db8::5", "10.0.0.1"))
        .isEqualTo("2001:0db8:0000:0000::/64");
    // Not an address literal: never resolved, the socket's peer counts.
    for (String bad :
        new String[] {
          "evil.example",
          "1.2.3.999",
          "",
          "unknown",
          "1.2.3.4.5",
          "zz::1",
          "::::::::::",
          ".1:2",
          "1.2:3"
        }) {
      assertThat(ClientAddresses.resolve(bad, "10.0.0.1")).as(bad).isEqualTo("10.0.0.1");
    }
    assertThat(ClientAddresses.resolve(null, "not-an-ip")).isEqualTo("unknown");
  }
}

package dev.creditgate.ledger.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.ledger.ChargeRequest;
import dev.creditgate.pricing.Quote;
import dev.creditgate.pricing.Usage;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * The overrun a charge's entry records: what a lease did not cover merges with the overrun the
 * caller recorded (the larger stands, as both count the same credits beyond the hold), and a replay
 * whose stored entry gained an overrun is still the same operation.
 */
class EntryDraftOverrunTest {

  static EntryDraft charge(String metadata) {
    ChargeRequest request =
        new ChargeRequest(
            "acct-1",
            "ev-1",
            "req-1",
            "default",
            "openai",
            "gpt",
            new Usage(10, 5, 0, 0),
            false,
            metadata);
    return EntryDraft.charge(request, new Quote(5_000, 5, 1, false));
  }

  @Test
  void anOverrunIsAddedToTheMetadata() {
    assertThat(charge("{}").withOverrun(5).metadata()).isEqualTo("{\"overrun\":5}");
    assertThat(charge("{\"alias\":\"a\"}").withOverrun(5).metadata())
        .isEqualTo("{\"alias\":\"a\",\"overrun\":5}");
  }

  @Test
  void theLargerOfTwoOverrunsStandsNotTheirSum() {
    EntryDraft recorded = charge("{\"alias\":\"a\",\"overrun\":3}");
    assertThat(recorded.withOverrun(2)).isSameAs(recorded);
    assertThat(recorded.withOverrun(0)).isSameAs(recorded);
    assertThat(recorded.withOverrun(7).metadata()).isEqualTo("{\"alias\":\"a\",\"overrun\":7}");
    assertThat(charge("{\"overrun\":3,\"alias\":\"a\"}").withOverrun(7).metadata())
        .isEqualTo("{\"alias\":\"a\",\"overrun\":7}");
  }

  @Test
  void anOverrunIsReadAndRemovedWhereverItStands() {
    assertThat(EntryDraft.overrunOf("{\"a\":1, \"overrun\" : 12 ,\"b\":2}")).isEqualTo(12);
    assertThat(EntryDraft.withoutOverrun("{\"a\":1, \"overrun\" : 12 ,\"b\":2}"))
        .isEqualTo("{\"a\":1 ,\"b\":2}");
    assertThat(EntryDraft.withoutOverrun("{\"overrun\":12,\"b\":2}")).isEqualTo("{\"b\":2}");
    assertThat(EntryDraft.withoutOverrun("{\"overrun\":12}")).isEqualTo("{}");
    assertThat(EntryDraft.overrunOf("{}")).isZero();
    assertThat(EntryDraft.overrunOf("{\"overrun\":99999999999999999999}"))
        .isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void aQuotedStringMentioningAnOverrunIsNotOne() {
    String metadata = "{\"alias\":\"\\\"overrun\\\":9\"}";
    assertThat(EntryDraft.overrunOf(metadata)).isZero();
    assertThat(EntryDraft.withoutOverrun(metadata)).isEqualTo(metadata);
  }

  @Test
  void aReplayIsTheSameOperationWhenOnlyTheRecordedOverrunDiffers() {
    EntryDraft draft = charge("{\"alias\":\"a\"}");
    EntryRow stored =
        new EntryRow(
            draft.withOverrun(4).toEntry(1, "acct-1", "ev-1", 95, Instant.EPOCH), "openai", null);
    assertThat(draft.differenceFrom(stored)).isNull();
    assertThat(charge("{\"alias\":\"b\"}").differenceFrom(stored)).contains("metadata");
  }
}

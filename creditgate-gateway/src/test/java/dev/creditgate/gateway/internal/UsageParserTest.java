package dev.creditgate.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.creditgate.gateway.internal.UsageParser.Report;
import dev.creditgate.pricing.Usage;
import org.junit.jupiter.api.Test;

class UsageParserTest {

  static Report parse(String completion) throws Exception {
    return UsageParser.report(Json.MAPPER.readTree(completion));
  }

  @Test
  void aWholeUsageIsReadWithItsDetails() throws Exception {
    Report r =
        parse(
            "{\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19,"
                + "\"prompt_tokens_details\":{\"cached_tokens\":4},"
                + "\"completion_tokens_details\":{\"reasoning_tokens\":2}}}");
    assertThat(r.kind()).isEqualTo(Report.Kind.VALID);
    assertThat(r.usage()).isEqualTo(new Usage(12, 7, 4, 2));
  }

  @Test
  void missingOrNullUsageIsAbsentAndMissingDetailsAreZero() throws Exception {
    assertThat(parse("{}").kind()).isEqualTo(Report.Kind.ABSENT);
    assertThat(parse("{\"usage\":null}").kind()).isEqualTo(Report.Kind.ABSENT);
    assertThat(
            parse(
                    "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,"
                        + "\"prompt_tokens_details\":null}}")
                .usage())
        .isEqualTo(new Usage(3, 1, 0, 0));
  }

  @Test
  void negativeFractionalTextualOrHugeCountsAreMalformedNotZero() throws Exception {
    for (String count :
        new String[] {"-5", "12.5", "\"340\"", "true", "{}", "null", "99999999999999999999"}) {
      Report r = parse("{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":" + count + "}}");
      assertThat(r.kind()).as(count).isEqualTo(Report.Kind.MALFORMED);
      assertThat(r.usage()).as(count).isNull();
      assertThat(r.problem()).as(count).contains("completion_tokens");
    }
  }

  @Test
  void anEmptyPromptOnlyOrNonObjectUsageIsMalformed() throws Exception {
    for (String usage :
        new String[] {"{}", "{\"prompt_tokens\":1200}", "\"lots\"", "[]", "42", "{\"x\":1}"}) {
      assertThat(parse("{\"usage\":" + usage + "}").kind())
          .as(usage)
          .isEqualTo(Report.Kind.MALFORMED);
    }
  }

  @Test
  void detailsBeyondTheirTotalsOrOfTheWrongTypeAreMalformed() throws Exception {
    for (String usage :
        new String[] {
          "{\"prompt_tokens\":3,\"completion_tokens\":1,\"prompt_tokens_details\":{\"cached_tokens\":4}}",
          "{\"prompt_tokens\":3,\"completion_tokens\":1,"
              + "\"completion_tokens_details\":{\"reasoning_tokens\":2}}",
          "{\"prompt_tokens\":3,\"completion_tokens\":1,\"prompt_tokens_details\":7}",
          "{\"prompt_tokens\":3,\"completion_tokens\":1,"
              + "\"completion_tokens_details\":{\"reasoning_tokens\":-1}}"
        }) {
      assertThat(parse("{\"usage\":" + usage + "}").kind())
          .as(usage)
          .isEqualTo(Report.Kind.MALFORMED);
    }
  }

  @Test
  void fromGivesOnlyAWholeUsage() throws Exception {
    assertThat(UsageParser.from(Json.MAPPER.readTree("{\"usage\":{\"prompt_tokens\":-1}}")))
        .isEmpty();
    assertThat(
            UsageParser.from(
                Json.MAPPER.readTree("{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}")))
        .contains(new Usage(1, 2, 0, 0));
  }
}

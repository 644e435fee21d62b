package dev.creditgate.sim;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.AlphaChars;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.StringLength;

class SimulatedTextTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @Property
  void lengthStaysInRangeAndShorterAnswersArePrefixes(
      @ForAll long seed, @ForAll @IntRange(min = 1, max = 64) int limit) {
    int natural = SimulatedText.naturalLength(seed);
    assertThat(natural).isBetween(SimulatedText.MIN_WORDS, SimulatedText.MAX_WORDS);
    int count = Math.min(limit, natural);
    String[] full = SimulatedText.words(seed, natural);
    String[] cut = SimulatedText.words(seed, count);
    for (int i = 0; i < count - 1; i++) {
      assertThat(cut[i]).isEqualTo(full[i]);
    }
    assertThat(cut[count - 1]).endsWith(".");
  }

  @Property
  void promptTokensGrowWithWordsAtAboutFourThirds(
      @ForAll @IntRange(min = 0, max = 5000) int words,
      @ForAll @AlphaChars @StringLength(max = 5) String pad) {
    ArrayNode messages = JSON.createArrayNode();
    messages.addObject().put("role", "user").put("content", (" w" + pad).repeat(words));
    int tokens = SimulatedText.promptTokens(messages);
    long expected =
        ((long) words * 4 + 2) / 3
            + SimulatedText.TOKENS_PER_MESSAGE
            + SimulatedText.TOKENS_PRIMING;
    assertThat((long) tokens).isEqualTo(expected);
    assertThat(SimulatedText.cachedTokens(tokens))
        .isBetween(0, tokens / 2)
        .matches(c -> c % SimulatedText.CACHE_BLOCK == 0);
  }

  @Property
  void contentPartsCountLikeStrings(@ForAll @IntRange(min = 0, max = 300) int words) {
    ArrayNode asString = JSON.createArrayNode();
    asString.addObject().put("role", "user").put("content", "a ".repeat(words));
    ArrayNode asParts = JSON.createArrayNode();
    asParts
        .addObject()
        .put("role", "user")
        .putArray("content")
        .addObject()
        .put("type", "text")
        .put("text", "a ".repeat(words));
    assertThat(SimulatedText.promptTokens(asParts)).isEqualTo(SimulatedText.promptTokens(asString));
  }
}

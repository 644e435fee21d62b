package dev.creditgate;

/** The model alias names no configured model. The gateway answers HTTP 404 {@code model_not_found}. */
public class UnsupportedModelAliasException extends CreditgateException {

  public static final String MESSAGE = "llm model alias is unsupported";

  private static final long serialVersionUID = 1L;

  private final String alias;

  public UnsupportedModelAliasException(String alias) {
    super(MESSAGE + ": '" + alias + "'");
    this.alias = alias;
  }

  public String alias() {
    return alias;
  }
}

package dev.creditgate.internal;

import java.util.concurrent.CompletableFuture;

/**
 * A future completed at construction that nobody can change afterwards, so one instance can be
 * handed to any number of callers (completing a done future is already a no-op; obtruding is not,
 * so it is refused).
 */
public final class SharedCompletedFuture<T> extends CompletableFuture<T> {

  public SharedCompletedFuture(T value) {
    super.complete(value);
  }

  @Override
  public void obtrudeValue(T value) {
    throw new UnsupportedOperationException("a shared completed future cannot be changed");
  }

  @Override
  public void obtrudeException(Throwable ex) {
    throw new UnsupportedOperationException("a shared completed future cannot be changed");
  }
}

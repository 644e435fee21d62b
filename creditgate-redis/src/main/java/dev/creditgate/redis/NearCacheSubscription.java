package dev.creditgate.redis;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.util.Deque;

/**
 * Keeps a near cache coherent: evicts an account when another instance announces a write to it on
 * the invalidation channel, and stops the near cache from caching while the subscription is down,
 * since messages published meanwhile are lost.
 */
final class NearCacheSubscription {

  private NearCacheSubscription() {}

  /**
   * Subscribes {@code near} to {@code channel} on a pub/sub connection of its own, opened with
   * {@code standalone} if not null, else with {@code cluster}, and pushed on {@code owned}.
   * Messages ending in {@code origin} are this instance's own and skipped.
   *
   * @return how to unhook the listener this adds to the client
   */
  static Runnable subscribe(
      RedisClient standalone,
      RedisClusterClient cluster,
      String channel,
      NearCache near,
      Deque<AutoCloseable> owned,
      String origin) {
    String ownSuffix = " " + origin;
    RedisPubSubAdapter<String, String> listener =
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String from, String message) {
            if (!channel.equals(from) || message.endsWith(ownSuffix)) {
              return;
            }
            int space = message.indexOf(' ');
            near.onInvalidationMessage(space < 0 ? message : message.substring(0, space));
          }

          @Override
          public void subscribed(String to, long count) {
            // Also called when Lettuce resubscribes after a reconnect.
            if (channel.equals(to)) {
              near.startListening();
            }
          }
        };
    AbstractRedisClient owner;
    StatefulConnection<String, String> pubSub;
    if (standalone != null) {
      StatefulRedisPubSubConnection<String, String> opened = standalone.connectPubSub();
      owned.push(opened);
      opened.addListener(listener);
      opened.sync().subscribe(channel);
      pubSub = opened;
      owner = standalone;
    } else {
      var opened = cluster.connectPubSub();
      owned.push(opened);
      opened.addListener(listener);
      opened.sync().subscribe(channel);
      pubSub = opened;
      owner = cluster;
    }
    // Messages published while the subscription is down are lost: stop caching until it is back.
    RedisConnectionStateListener stateListener =
        new RedisConnectionStateListener() {
          @Override
          public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
            if (handler == pubSub) {
              near.stopListening();
            }
          }
        };
    owner.addListener(stateListener);
    return () -> owner.removeListener(stateListener);
  }
}

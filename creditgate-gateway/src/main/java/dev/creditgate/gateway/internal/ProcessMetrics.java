package dev.creditgate.gateway.internal;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmCompilationMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmHeapPressureMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;

/**
 * The JVM's and the process's meters, by Micrometer's binders: memory pools and buffers ({@code
 * jvm_memory_*}, {@code jvm_buffer_*}), garbage collection pauses and allocation ({@code
 * jvm_gc_*}), heap pressure, threads by state, classes, JIT compilation time, CPU ({@code
 * process_cpu_usage}, {@code system_cpu_usage}, {@code system_load_average_1m}), open and maximum
 * file descriptors ({@code process_files_*}), uptime and start time, and the JVM's version ({@code
 * jvm_info}).
 *
 * <p>{@link #close()} stops the listeners the GC binders registered with the JVM.
 */
public final class ProcessMetrics implements AutoCloseable {

  private final JvmGcMetrics gc = new JvmGcMetrics();
  private final JvmHeapPressureMetrics heapPressure = new JvmHeapPressureMetrics();

  /** Binds every meter to {@code registry}. */
  public ProcessMetrics(MeterRegistry registry) {
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    heapPressure.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new JvmCompilationMetrics().bindTo(registry);
    new JvmInfoMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  @Override
  public void close() {
    gc.close();
    heapPressure.close();
  }
}

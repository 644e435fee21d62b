package dev.creditgate.gateway.internal;

import dev.creditgate.gateway.ApiError;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Files served from a directory on the classpath, by a name taken from the URL: only plain file
 * names (no separators, no leading dot) with a known type are looked up, so a request cannot reach
 * anything else on the classpath. Used for the pages the gateway serves itself and for WebJars.
 */
final class ClasspathFiles {

  /** A file directly in the directory: no separators, no leading dot. */
  private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

  private static final Map<String, String> CONTENT_TYPES =
      Map.of(
          "html", "text/html; charset=utf-8",
          "js", "text/javascript; charset=utf-8",
          "css", "text/css; charset=utf-8",
          "map", "application/json",
          "txt", "text/plain; charset=utf-8",
          "png", "image/png",
          "svg", "image/svg+xml");

  private static final ClassLoader LOADER = ClasspathFiles.class.getClassLoader();

  private final String directory;
  private final String urlPrefix;

  /**
   * @param directory the classpath directory, ending in '/'
   * @param urlPrefix the URL path the files are served under, named in a 404's message
   */
  ClasspathFiles(String directory, String urlPrefix) {
    this.directory = directory;
    this.urlPrefix = urlPrefix;
  }

  /** The files of a WebJar: its directory for the version on the classpath. */
  static ClasspathFiles webjar(String group, String artifact, String under, String urlPrefix) {
    String pomPath = "META-INF/maven/" + group + "/" + artifact + "/pom.properties";
    Properties pom = new Properties();
    try (InputStream in = resource(pomPath)) {
      pom.load(in);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + pomPath, e);
    }
    String version = pom.getProperty("version");
    if (version == null || version.isBlank()) {
      throw new IllegalStateException(pomPath + " names no version");
    }
    return new ClasspathFiles(
        "META-INF/resources/webjars/" + artifact + "/" + version + "/" + under, urlPrefix);
  }

  /** Responds with the file {@code name}, or a 404 when there is none by that name. */
  void serve(Context ctx, String name) throws IOException {
    String type = FILE_NAME.matcher(name).matches() ? CONTENT_TYPES.get(extension(name)) : null;
    try (InputStream in = type == null ? null : LOADER.getResourceAsStream(directory + name)) {
      if (in == null) {
        throw new ApiError(
            404,
            "invalid_request_error",
            "not_found",
            "no such file: " + urlPrefix + "/" + Authenticator.abbreviate(name));
      }
      ctx.status(200).contentType(type).result(in.readAllBytes());
    }
  }

  /** The text of a file, which must be there. */
  String text(String name) {
    try (InputStream in = resource(directory + name)) {
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + directory + name, e);
    }
  }

  static InputStream resource(String path) {
    InputStream in = LOADER.getResourceAsStream(path);
    if (in == null) {
      throw new IllegalStateException(path + " is missing from the classpath");
    }
    return in;
  }

  private static String extension(String name) {
    int dot = name.lastIndexOf('.');
    return dot < 0 ? "" : name.substring(dot + 1);
  }
}

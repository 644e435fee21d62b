# Sourced by bench/run-load.sh and bench/drills/lib.sh: finds a JDK 21+ (JAVA, JAVA_HOME, the
# Temurin 25 of this machine, java on PATH, then /usr/lib/jvm) and prints its java, or exits.
find_java() {
  local candidate version
  for candidate in "${JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" /usr/lib/jvm/temurin-25-jdk-amd64/bin/java \
      java /usr/lib/jvm/*/bin/java; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 || continue
    version=$("$candidate" -XshowSettings:properties -version 2>&1 \
      | awk -F'= ' '/java.specification.version/ {print $2}')
    if [ "${version%%.*}" -ge 21 ] 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "no JDK 21+ found: set JAVA=/path/to/bin/java" >&2
  exit 1
}

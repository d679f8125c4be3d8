# Sourced by the scripts that need a program from Debian's packages.
# need_debian PROGRAM PACKAGE: installs PACKAGE when PROGRAM is missing (as
# root; otherwise says how and fails).
need_debian() {
  [ -x "$1" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "$(basename "$0"): installing $2 (Debian package)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "$(basename "$0"): needs $1: sudo apt-get install $2" >&2
    exit 1
  fi
}

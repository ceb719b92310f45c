#!/usr/bin/env bash
# Builds the Debian packages from a Release build, with dpkg-deb (no
# debhelper, nothing downloaded):
#   nightjar-node  /usr/bin/nightjar-node, its systemd unit (not enabled on
#                  install), /etc/nightjar/nightjar-node.conf (a conffile),
#                  the maintainer scripts that create the user nightjar and
#                  /var/lib/nightjar, and the manual page nightjar-node(8)
#   nightjar       /usr/bin/nightjar and /usr/bin/nightjar-simnet, and their
#                  manual pages nightjar(1) and nightjar-simnet(1)
# Depends: on shared libraries is computed by dpkg-shlibdeps. The manual pages
# are generated from the programs' --help by help2man, with the sections
# --help lacks from packaging/man/*.h2m. The version is the project's
# (CMakeLists.txt) plus the Debian revision of packaging/debian/changelog.
# docs/OPERATING.md, "Install", says how to install them.
#
# Usage: bash scripts/package.sh [--no-build] [--out DIR]
#   --no-build  package the binaries already in BUILD_DIR/bin (default: build
#               nightjar-node, nightjar and nightjar-simnet first if needed)
#   --out DIR   where the .deb files go (default: BUILD_DIR/packages); earlier
#               nightjar-node_*.deb and nightjar_*.deb there are deleted
# Environment:
#   BUILD_DIR   the Release build directory (default: build-release, since
#               scripts/build.sh makes build a RelWithDebInfo build); made
#               with scripts/build.sh if it does not exist
#   CI=true     warnings are errors, as in scripts/build.sh
# Needs: dpkg-dev (dpkg-shlibdeps, dpkg-gencontrol), help2man, binutils; like
# the other scripts it installs what is missing first (scripts/deps.sh).
# Prints the paths of the two .deb files, one a line, on standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

usage() {
  sed -n '/^# Usage:/,/^# Needs:/p' "$0" | sed -e 's/^# \{0,1\}//' -e '/^Needs:/d'
}
die() {
  echo "package.sh: $*" >&2
  exit 1
}

build=1
out_dir=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=0 ;;
    --out)
      [[ $# -ge 2 ]] || die "--out needs a directory"
      out_dir=$2
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "package.sh: unknown argument '$1'" >&2
      usage >&2
      exit 2
      ;;
  esac
  shift
done

# The build's packages and the packaging tools, if missing (scripts/deps.sh).
NIGHTJAR_PACKAGE_DEPS=1 bash scripts/deps.sh >&2
missing=()
for tool in dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-parsechangelog help2man strip gzip; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[[ ${#missing[@]} -eq 0 ]] || die "missing ${missing[*]}: apt-get install dpkg-dev help2man binutils"

build_dir=${BUILD_DIR:-build-release}
targets="nightjar-node nightjar nightjar-simnet"
cache=$build_dir/CMakeCache.txt
if [[ -f $cache ]]; then
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache")
  [[ $build_type == Release ]] ||
    die "$build_dir is a '$build_type' build; packages are made from a Release build: give another BUILD_DIR"
fi
if [[ $build == 1 ]]; then
  echo "package.sh: building $targets in $build_dir (Release)" >&2
  BUILD_DIR=$build_dir BUILD_TYPE=Release BUILD_TARGETS=$targets bash scripts/build.sh >&2
fi
[[ -f $cache ]] || die "$build_dir is not a CMake build directory (run without --no-build)"
bin=$(realpath "$build_dir/bin")
for t in $targets; do
  [[ -x $bin/$t ]] || die "$bin/$t is missing (run without --no-build)"
done

# The version: the project's, with the changelog's Debian revision.
project_version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$cache")
changelog=packaging/debian/changelog
version=$(dpkg-parsechangelog -l "$changelog" -SVersion)
[[ ${version%-*} == "$project_version" ]] ||
  die "$changelog starts with version $version, but the project is $project_version: add a changelog entry '$project_version-1'"
node_version=$("$bin/nightjar-node" --version)
[[ $node_version == "nightjar-node $project_version" ]] ||
  die "$bin/nightjar-node --version says '$node_version', not $project_version: the build is stale"
# Manual pages and gzip get their dates from the changelog, so that the same
# tree gives the same packages.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$changelog" -STimestamp)
export SOURCE_DATE_EPOCH

out_dir=${out_dir:-$build_dir/packages}
stage=$(realpath -m "$build_dir/deb-staging")
rm -rf "$stage"
mkdir -p "$stage/debian" "$stage/help" "$out_dir"
rm -f "$out_dir"/nightjar-node_*.deb "$out_dir"/nightjar_*.deb
cp packaging/debian/control "$changelog" "$stage/debian/"

# --- The help texts help2man reads, each made readable to it. ----------------

# help2man runs PROGRAM --help and PROGRAM --version; this makes a PROGRAM
# that prints a prepared help text instead.
help_stub() {  # name, help-text-file -> path of the stub
  local stub=$stage/help/$1
  printf '#!/bin/sh\nif [ "$1" = --version ]; then exec %q --version; fi\ncat %q\n' \
    "$bin/$1" "$2" >"$stub"
  chmod 0755 "$stub"
  echo "$stub"
}

# nightjar-node: the second usage line as help2man's "or:" line; the guide
# where the package puts it.
"$bin/nightjar-node" --help |
  sed -E -e '2s/^ +(nightjar-node )/  or:  \1/' \
    -e 's|docs/OPERATING\.md|/usr/share/doc/nightjar-node/OPERATING.md.gz|' \
    >"$stage/help/nightjar-node.txt"

# nightjar-simnet: `run --help`, its options under "Options:".
"$bin/nightjar-simnet" run --help |
  sed -E -e 's/^nightjar-simnet run: options \(.*\):$/Options:/' \
    -e 's|docs/SIMNET\.md|/usr/share/doc/nightjar/SIMNET.md.gz|' \
    >"$stage/help/nightjar-simnet.txt"

# nightjar: the top-level help (usage, commands, options, environment), then
# each command's help (`nightjar help COMMAND`, without the common options
# again) in a section COMMANDS, then the exit status. two_columns puts two
# spaces at least between a command or option and its description, which
# help2man needs to tell them apart.
# (nightjar's tables start their descriptions in column 27; not in the usage
# lines, "  nightjar ...")
two_columns() {
  sed -E -e '/^  nightjar /!s/^(  [^ ].{21}[^ ]) ([^ ])/\1  \2/' \
    -e 's/^(  -[^ ]+ [A-Z|]+) ([a-z(])/\1  \2/'
}
cli_help() {
  local top command
  top=$("$bin/nightjar" --help)
  awk '/^Common options:/ {exit} {print}' <<<"$top" | two_columns
  echo "Options:"
  awk '/^Common options:/ {f = 1; next} /^Environment:/ {exit} f {print}' <<<"$top" | two_columns
  echo "*Commands*"
  for command in $(awk '/^Commands:/ {f = 1; next} /^$/ {f = 0}
                        f && /^  [a-z]/ && $1 != "help" && !seen[$1]++ {print $1}' <<<"$top"); do
    # "Usage: nightjar send ..." and its other forms: a heading, then one
    # paragraph per form.
    "$bin/nightjar" help "$command" |
      awk -v c="$command" '/^Common options:/ {done = 1} done {next}
        /^Usage: / {print "nightjar " c ":"; sub(/^Usage: /, "  "); print; next}
        /^       nightjar / {sub(/^ +/, "  "); print ""; print; next}
        {print}' | two_columns
  done
  awk '/^Environment:/ {f = 1} /^Exit status:/ {f = 0} f {print}' <<<"$top" | two_columns
  echo "*Exit status*"
  # (Without its last sentence, which points at `nightjar help COMMAND`.)
  awk '/^Exit status:/ {f = 1} /^Run `nightjar help/ {f = 0} f {print}' <<<"$top" |
    sed 's/^Exit status: //'
}
cli_help >"$stage/help/nightjar.txt"

man_page() {  # program, section, package: the compressed page in the package's tree
  local program=$1 section=$2 package=$3
  local dir=$stage/debian/$package/usr/share/man/man$section
  mkdir -p "$dir"
  help2man --no-info --section "$section" --include "packaging/man/$program.h2m" \
    --output "$stage/$program.$section" "$(help_stub "$program" "$stage/help/$program.txt")"
  gzip -9n <"$stage/$program.$section" >"$dir/$program.$section.gz"
}

# --- The package trees. -------------------------------------------------------

install_binary() {  # program, package
  install -D -m 0755 "$bin/$1" "$stage/debian/$2/usr/bin/$1"
  # As dh_strip does: no debugging symbols, no .comment or .note sections.
  strip --remove-section=.comment --remove-section=.note --strip-unneeded \
    "$stage/debian/$2/usr/bin/$1"
}
install_docs() {  # package, docs...
  local package=$1 doc=$stage/debian/$1/usr/share/doc/$1
  shift
  install -D -m 0644 packaging/debian/copyright "$doc/copyright"
  install -D -m 0644 "packaging/$package/lintian-overrides" \
    "$stage/debian/$package/usr/share/lintian/overrides/$package"
  gzip -9n <"$changelog" >"$doc/changelog.Debian.gz"
  for f in "$@"; do
    gzip -9n <"$f" >"$doc/$(basename "$f").gz"
  done
}

# nightjar-node
root=$stage/debian/nightjar-node
install_binary nightjar-node nightjar-node
install -D -m 0644 contrib/nightjar-node.conf "$root/etc/nightjar/nightjar-node.conf"
mkdir -p "$root/lib/systemd/system"
sed 's|/usr/local/bin/nightjar-node|/usr/bin/nightjar-node|' contrib/nightjar-node.service \
  >"$root/lib/systemd/system/nightjar-node.service"
grep -q '^ExecStart=/usr/bin/nightjar-node ' "$root/lib/systemd/system/nightjar-node.service" ||
  die "contrib/nightjar-node.service: no ExecStart=/usr/local/bin/nightjar-node line to point at /usr/bin"
man_page nightjar-node 8 nightjar-node
install_docs nightjar-node docs/OPERATING.md
mkdir -p "$root/DEBIAN"
install -m 0755 packaging/nightjar-node/postinst packaging/nightjar-node/prerm \
  packaging/nightjar-node/postrm "$root/DEBIAN/"
install -m 0644 packaging/nightjar-node/conffiles "$root/DEBIAN/"

# nightjar
root=$stage/debian/nightjar
install_binary nightjar nightjar
install_binary nightjar-simnet nightjar
man_page nightjar 1 nightjar
man_page nightjar-simnet 1 nightjar
install_docs nightjar docs/CLI.md docs/JSONRPC.md docs/SIMNET.md
mkdir -p "$root/DEBIAN"

# --- Control files and the .deb files. ----------------------------------------

for package in nightjar-node nightjar; do
  root=debian/$package
  (
    cd "$stage"
    # Depends: the packages of the shared libraries the binaries link.
    dpkg-shlibdeps -T"debian/$package.substvars" "$root"/usr/bin/*
    dpkg-gencontrol -p"$package" -P"$root" -T"debian/$package.substvars" -fdebian/files
    # md5sums of every file but the conffiles (dpkg keeps theirs itself).
    cd "$root"
    find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
      grep -vxF -f <(sed 's|^/||' DEBIAN/conffiles 2>/dev/null || true) |
      xargs -d '\n' md5sum >DEBIAN/md5sums
    chmod 0644 DEBIAN/md5sums DEBIAN/control
  )
  arch=$(sed -n 's/^Architecture: //p' "$stage/$root/DEBIAN/control")
  deb=$out_dir/${package}_${version}_$arch.deb
  dpkg-deb --root-owner-group -Zxz --build "$stage/$root" "$deb" >/dev/null
  echo "$deb"
done

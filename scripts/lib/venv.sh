# Sourced by the scripts that need Python tools: `ensure_venv DIR SPEC...` makes DIR a virtualenv
# holding the pinned packages, creating it if missing and running pip only when a pin is not
# already installed, so later runs cost one python start-up. It prints one line when it installs.
#
#   ensure_venv "$target/sam-venv" aws-sam-cli==1.170.0 cfn-lint==1.58.0
#   ensure_venv "$target/bench-venv" -r benches/requirements.txt
#
# A SPEC is name==version (extras allowed: moto[server]==5.2.5, checked by name and version only)
# or -r FILE of such lines; any other requirement cannot be checked offline, so pip always runs.

ensure_venv() {
  local dir="$1"; shift
  [ $# -gt 0 ] || { echo "ensure_venv: no packages given for $dir" >&2; return 2; }
  if [ ! -x "$dir/bin/python" ]; then
    mkdir -p "$(dirname "$dir")"
    python3 -m venv "$dir"
  fi
  if ! "$dir/bin/python" - "$@" <<'PY' 2>/dev/null; then
import re, sys
from importlib.metadata import version

def specs(args):
    args = iter(args)
    for arg in args:
        if arg == "-r":
            with open(next(args), encoding="utf-8") as lines:
                for line in lines:
                    line = line.split("#", 1)[0].strip()
                    if line:
                        yield line
        else:
            yield arg

for spec in specs(sys.argv[1:]):
    pin = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;,=<>!~]+)", spec)
    if not pin or version(pin.group(1)) != pin.group(3):
        sys.exit(1)
PY
    echo "installing $* into $dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
  fi
}

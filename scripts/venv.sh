# Sourced by scripts/run, scripts/test and .ci/run: create .venv when missing and install a
# requirements file into it. Debian's own Python makes virtualenvs only with python3-venv.
ensure_venv() {
  local requirements=$1
  local python=${PYTHON:-$(command -v python3.11 || command -v python3)}
  if [ ! -x .venv/bin/python ]; then
    if ! "$python" -c "import ensurepip" 2>/dev/null; then
      echo "Installing python3-venv, which this Python needs to make a virtualenv."
      local sudo=""
      [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
}

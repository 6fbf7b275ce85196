# Sourced by the scripts that read recordings back with Rerun's own Python SDK: makes sure
# rerun-sdk 0.36.3 (with pillow) is installed in .venv-rerun — or, where python3 has no
# venv module (a bare Debian), in .pydeps-rerun — and sets `python` and `rerun` to use it.
# Needs `root` (the repository) set.
venv=.venv-rerun
python="$root/$venv/bin/python"
rerun="$root/$venv/bin/rerun"
if [ ! -x "$python" ] && ! python3 -m venv "$root/$venv" >&2; then
  rm -rf "${root:?}/$venv"
  python=python3
  export PYTHONPATH="$root/.pydeps-rerun${PYTHONPATH:+:$PYTHONPATH}"
  rerun="$root/.pydeps-rerun/bin/rerun"
  if ! "$python" -c "import rerun, PIL" 2>/dev/null; then
    echo "installing rerun-sdk 0.36.3 into .pydeps-rerun..." >&2
    "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir --target "$root/.pydeps-rerun" \
      "rerun-sdk[datafusion]==0.36.3" pillow >&2
  fi
elif ! "$python" -c "import rerun, PIL" 2>/dev/null; then
  echo "installing rerun-sdk 0.36.3 into $venv..." >&2
  "$python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
    "rerun-sdk[datafusion]==0.36.3" pillow >&2
fi

# Two commands matter: `make run` and `make test`. Both install what they need on a fresh Debian
# machine (as root), so a clean checkout needs nothing else.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
STATE   := .sealer
MODULE  := /usr/lib/softhsm/libsofthsm2.so
APT_PKGS := softhsm2 opensc

.PHONY: run test lint system-deps venv clean

system-deps:
	@missing=""; \
	command -v softhsm2-util >/dev/null 2>&1 && test -f $(MODULE) || missing="$(APT_PKGS)"; \
	python3 -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	command -v gpg >/dev/null 2>&1 || missing="$$missing gnupg"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: system-deps $(STAMP)

# First use: a private SoftHSM token and a random PIN under ./.sealer/, then an unattended init.
# Later uses: the daemon unseals itself from the token.
run: venv
	@mkdir -p $(STATE) && chmod 700 $(STATE)
	@test -s $(STATE)/hsm-pin || (umask 077; $(PY) -c 'import secrets; print(secrets.token_hex(16))' > $(STATE)/hsm-pin)
	@SO_PIN=$$($(PY) -c 'import secrets; print(secrets.token_hex(16))'); \
	  ./ci/softhsm/make-token.sh $(STATE)/softhsm sealer "$$(cat $(STATE)/hsm-pin)" "$$SO_PIN" >/dev/null
	SOFTHSM2_CONF=$(STATE)/softhsm/softhsm2.conf $(VENV)/bin/sealer server --config config/run.yaml

lint: venv
	$(VENV)/bin/ruff check sealer engine hsm tests

test: venv lint
	$(PY) -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) $(STATE)

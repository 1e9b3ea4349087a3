# The everyday commands. CMake does the building; see README.md.
#   make run     start the tour of the examples (weftd once it exists)
#   make test    build with warnings as errors and run every test
#   make check   the tests again under ASan+UBSan, and the thread tests
#                under TSan
#   make bench   run the benchmarks and write docs/BENCHMARKS.md
#   make stress  the long soak and crash-trial runs
#   make fuzz    libFuzzer on every parser of untrusted input
#   make install PREFIX=/usr/local
PREFIX ?= /usr/local
MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build run tour test check check-banned check-asan check-tsan \
        bench stress fuzz \
        install format clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DWEFT_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

# The main job: weftd serving ./library on 127.0.0.1:9000 until ^C.
run: build
	@echo "weftd: try ./build/weft ls, ./build/weft put FILE, ./build/weft shell (in another terminal); ^C stops it"
	@./build/weftd

# A tour of the process, thread, pool and coroutine examples.
tour: build
	@sh scripts/tour.sh build

test: build
	@cd build && ctest --output-on-failure -j $(JOBS) -LE stress

check: check-banned check-asan check-tsan

check-banned:
	@sh scripts/check-banned.sh

check-asan:
	@sh scripts/install-deps.sh --check
	@cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DWEFT_WERROR=ON \
	  -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=address,undefined \
	  -DWEFT_BENCH=OFF >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE stress

# ThreadSanitizer covers the parts where threads meet (label "threads").
# die_after_fork=0: weft's children start threads after a threaded parent
# forked them, which TSan supports but refuses by default.
check-tsan:
	@sh scripts/install-deps.sh --check
	@cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DWEFT_WERROR=ON \
	  -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=thread \
	  -DWEFT_BENCH=OFF -DWEFT_EXAMPLES=OFF >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -L threads

bench: build
	@sh scripts/install-deps.sh --bench
	@sh bench/run.sh build

# libFuzzer on every target for FUZZ_SECONDS each (see fuzz/README.md).
FUZZ_SECONDS ?= 60
fuzz:
	@sh scripts/install-deps.sh --check
	@cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DWEFT_FUZZ=ON \
	  -DWEFT_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug \
	  -DWEFT_BENCH=OFF -DWEFT_EXAMPLES=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@for f in build-fuzz/fuzz/fuzz_*; do \
	  case $$f in *_replay) continue ;; esac; \
	  n=$$(basename $$f | sed 's/^fuzz_//'); \
	  mkdir -p build-fuzz/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus/$$n fuzz/corpus/$$n || exit 1; \
	done

stress: build
	@cd build && WEFT_STRESS=1 ctest --output-on-failure -L stress

install: build
	@cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build build --target install

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf build build-asan build-tsan build-fuzz

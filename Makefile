# Stele — a thin layer over CMake. Every target installs missing Debian packages first.
#
#   make              build everything (build/)
#   make check        build with ASan+UBSan (build-san/) and run every test
#   make demo         run the main job: start a local network and show it working
#   make bench        run the benchmark workloads and print their numbers
#   make fuzz         build libFuzzer targets with clang (build-fuzz/) and run each briefly
#   make format       reformat the tree with .clang-format; make format-check only checks
#   make install      install programs, the chaincode header and pkg-config file (PREFIX, DESTDIR)

PREFIX ?= /usr/local
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build check demo bench fuzz format format-check install clean

all: build

deps:
	@bash scripts/install-deps

build: deps
	cmake -S . -B build -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j $(JOBS)

check: deps
	cmake -S . -B build-san -DSTELE_SANITIZE=ON -DSTELE_TEST_HOOKS=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build-san -j $(JOBS)
	cd build-san && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	bash scripts/demo

bench: build
	bash scripts/bench

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DSTELE_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	bash scripts/fuzz build-fuzz $(FUZZ_SECONDS)

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

install: build
	DESTDIR=$(DESTDIR) cmake --install build

clean:
	rm -rf build build-san build-fuzz

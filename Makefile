# The two commands of the README:
#   make demo   installs what is missing, builds, converts MNIST and trains the
#               AEVB paper configuration, evaluates it, draws its pictures
#               (aevb-infer) and writes the run report (runs/demo/run/report/)
#   make test   installs what is missing, builds (warnings are errors) and runs
#               every test under ctest (unit, end-to-end, MPI, SLURM job scripts,
#               install + find_package + Lmod modulefile)
#   make test-mpich   the same build against MPICH (build-mpich/), and its MPI tests
# Data: $(AEVB_DATA)/mnist holds the four MNIST IDX files (gzipped or not).

AEVB_DATA ?= ../shared/data
# Absolute, because tests run from the build directory.
override AEVB_DATA := $(abspath $(AEVB_DATA))
BUILD ?= build
JOBS ?= 2
DEMO_EPOCHS ?= 10
DEMO_OUT ?= runs/demo
DEMO_RUN = $(DEMO_OUT)/run
DEMO_INFER = mpirun -np 2 --oversubscribe $(BUILD)/aevb-infer
DEMO_MODEL = --model $(DEMO_RUN)/model.h5 --force
# mpirun as root (containers, CI) needs these two variables.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export AEVB_DATA

# The MPICH build (the family of Cray MPICH and Intel MPI), beside Open MPI:
MPICH_BUILD ?= $(BUILD)-mpich
MPICH_CC ?= /usr/bin/mpicc.mpich
MPICH_MPIEXEC ?= /usr/bin/mpiexec.mpich
# The tests that start ranks with AEVB_MPIEXEC (tests/mpi_test_util.hpp, test_eval_cli.cpp).
MPI_TESTS ?= MpiTrain|RankInvariance

.PHONY: deps deps-test deps-mpich build demo test fuzz fuzz-build test-mpich test-sanitize bench bench-native clean

deps:
	./tools/install-deps.sh

# The tests also start a private SLURM cluster (munge, slurmctld, slurmd) and
# load the installed modulefile with Lmod.
deps-test:
	AEVB_WITH_TESTS=1 ./tools/install-deps.sh

# MPICH beside Open MPI; Open MPI stays the default (mpicc, mpirun, and so what
# `make build` configures with).
deps-mpich:
	AEVB_WITH_MPICH=1 ./tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DAEVB_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/aevb-data convert mnist --mnist-dir $(AEVB_DATA)/mnist --out $(DEMO_OUT)/mnist --force
	mpirun -np 1 $(BUILD)/aevb-train --data $(DEMO_OUT)/mnist --out $(DEMO_RUN) --epochs $(DEMO_EPOCHS) --samples-every 1
	mpirun -np 2 --oversubscribe $(BUILD)/aevb-eval --model $(DEMO_RUN)/model.h5 --data $(DEMO_OUT)/mnist \
	  --k 1,10,100 --out $(DEMO_RUN)/eval-test.h5 --force
	@# What the model learned: pictures, the test split's latents, then the report.
	$(DEMO_INFER) sample $(DEMO_MODEL) --out $(DEMO_RUN)/pictures/sample
	$(DEMO_INFER) reconstruct $(DEMO_MODEL) --data $(DEMO_OUT)/mnist --out $(DEMO_RUN)/pictures/reconstruct
	$(DEMO_INFER) manifold $(DEMO_MODEL) --dims auto --data $(DEMO_OUT)/mnist --out $(DEMO_RUN)/pictures/manifold
	$(DEMO_INFER) interpolate $(DEMO_MODEL) --data $(DEMO_OUT)/mnist --out $(DEMO_RUN)/pictures/interpolate
	$(DEMO_INFER) inpaint $(DEMO_MODEL) --data $(DEMO_OUT)/mnist --points 100 --out $(DEMO_RUN)/pictures/inpaint
	$(DEMO_INFER) denoise $(DEMO_MODEL) --data $(DEMO_OUT)/mnist --points 100 --out $(DEMO_RUN)/pictures/denoise
	mpirun -np 2 --oversubscribe $(BUILD)/aevb-infer encode --model $(DEMO_RUN)/model.h5 --data $(DEMO_OUT)/mnist \
	  --split test --out $(DEMO_RUN)/latents-test --force
	$(BUILD)/aevb-report $(DEMO_RUN)
	@echo "demo: open $(DEMO_RUN)/report/index.html"

# The libFuzzer build (clang, ASan + UBSan; fuzz/, docs/fuzzing.md): only the
# fuzz targets and what they link are compiled.
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang-14
FUZZ_CXX ?= clang++-14
fuzz-build:
	CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAEVB_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_targets

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600
	$(MAKE) fuzz-build
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz -j$(JOBS)

# Every fuzz target for FUZZ_SECONDS each, one after the other, one process
# each; crashes land in $(FUZZ_BUILD)/fuzz/artifacts/.
fuzz: deps-test fuzz-build
	@set -e; for t in $$(cd $(FUZZ_BUILD)/fuzz && ls fuzz_* | grep -v '\.'); do \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  ASAN_OPTIONS=detect_leaks=0 fuzz/run_fuzz.sh $(FUZZ_BUILD)/fuzz/$$t fuzz/corpus/$${t#fuzz_} \
	    $(FUZZ_BUILD)/fuzz/corpus/$${t#fuzz_} $(FUZZ_SECONDS); done

# MPICH's compiler wrapper and hydra mpiexec (no Open MPI flags in the tests:
# cmake/AevbMpiexec.cmake), its own build directory, the MPI tests.
test-mpich: deps-mpich
	cmake -S . -B $(MPICH_BUILD) -DCMAKE_BUILD_TYPE=Release -DAEVB_WERROR=ON \
	  -DMPI_C_COMPILER=$(MPICH_CC) -DMPIEXEC_EXECUTABLE=$(MPICH_MPIEXEC)
	cmake --build $(MPICH_BUILD) -j$(JOBS)
	cd $(MPICH_BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600 --no-tests=error -R '$(MPI_TESTS)'

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps-test
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAEVB_SANITIZE=ON -DAEVB_WERROR=ON
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j$(JOBS) --timeout 900

bench: build
	$(BUILD)/bench/aevb_bench_train
	mpirun -np 2 --oversubscribe $(BUILD)/bench/aevb_bench_train

# The same training benchmark built with -march=native (AEVB_NATIVE=ON), to set
# beside the portable default's numbers from `make bench`.
bench-native: deps
	cmake -S . -B $(BUILD)-native -DCMAKE_BUILD_TYPE=Release -DAEVB_NATIVE=ON
	cmake --build $(BUILD)-native -j$(JOBS) --target aevb_bench_train
	$(BUILD)-native/bench/aevb_bench_train

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-native $(MPICH_BUILD) $(FUZZ_BUILD)

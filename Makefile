# The two commands of the README:
#   make demo   installs what is missing, builds, converts MNIST and trains the
#               AEVB paper configuration (then evaluates it)
#   make test   installs what is missing, builds (warnings are errors) and runs
#               every test under ctest (unit, end-to-end, MPI)
# Data: $(AEVB_DATA)/mnist holds the four MNIST IDX files (gzipped or not).

AEVB_DATA ?= ../shared/data
# Absolute, because tests run from the build directory.
override AEVB_DATA := $(abspath $(AEVB_DATA))
BUILD ?= build
JOBS ?= 2
DEMO_EPOCHS ?= 10
DEMO_OUT ?= runs/demo
# mpirun as root (containers, CI) needs these two variables.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export AEVB_DATA

.PHONY: deps deps-test build demo test test-sanitize bench clean

deps:
	./tools/install-deps.sh

# The tests also start a private SLURM cluster (munge, slurmctld, slurmd).
deps-test:
	AEVB_WITH_SLURM=1 ./tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DAEVB_WERROR=ON
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/aevb-data convert mnist --mnist-dir $(AEVB_DATA)/mnist --out $(DEMO_OUT)/mnist --force
	mpirun -np 1 $(BUILD)/aevb-train --data $(DEMO_OUT)/mnist --out $(DEMO_OUT)/run --epochs $(DEMO_EPOCHS)
	@if [ -x $(BUILD)/aevb-eval ]; then \
	  mpirun -np 2 --oversubscribe $(BUILD)/aevb-eval --model $(DEMO_OUT)/run/model.h5 --data $(DEMO_OUT)/mnist \
	    --k 1,10,100 --out $(DEMO_OUT)/run/eval-test.h5; fi

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps-test
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAEVB_SANITIZE=ON -DAEVB_WERROR=ON
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure -j$(JOBS) --timeout 900

bench: build
	$(BUILD)/bench/aevb_bench_train
	mpirun -np 2 --oversubscribe $(BUILD)/bench/aevb_bench_train

clean:
	rm -rf $(BUILD) $(BUILD)-asan

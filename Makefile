# elena-run: build, test, demo and benchmark entry points. `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Swift lives in /opt/swift on the build machines; use it when it is not on PATH already.
ifeq ($(shell command -v swift 2>/dev/null),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif

# Extra arguments for `swift test`, e.g. make test TEST_ARGS='--filter GlobTests'
TEST_ARGS ?=
DEMO_MANIFEST := pipelines/demo.yaml
DEMO_LIBRARY := demo-library
DEMO_DROP := demo

.PHONY: help deps build test demo demo-photos install uninstall bench examples schema clean-demo models check-leaks check-asan fuzz crash model

help:
	@echo "elena-run make targets:"
	@echo "  make help        this list (the default)"
	@echo "  make deps        install missing system packages (scripts/install-deps)"
	@echo "  make build       deps + swift build (.build/debug/elena-run, .build/debug/elena-dev)"
	@echo "  make models      install the face models into .build/models (needed by no_face / lips_only / auto)"
	@echo "  make check-leaks valgrind over the C shim (codec and detector) and 1,000 crops with bounded memory"
	@echo "  make check-asan  AddressSanitizer over the binary and its image library: a drop to publication, 3,000 images"
	@echo "  make test        install-deps --test, then scripts/run-tests (throwaway PostgreSQL, swift test,"
	@echo "                   native shim test, manifest lint); extra swift test args: TEST_ARGS='--filter X'"
	@echo "  make demo        build, install the models, fetch the demo photographs, then run $(DEMO_MANIFEST) into"
	@echo "                   $(DEMO_LIBRARY)/ (stops at the review gate; a few minutes on a fresh machine)"
	@echo "  make install     release build into $$(PREFIX)/bin with the models, completions and man page (PREFIX=$(PREFIX))"
	@echo "  make uninstall   remove what make install put under $(PREFIX)"
	@echo "  make bench       release build + benchmarks: no-op rerun on 10,000 images, crop speed, review page, Fanvue requests,"
	@echo "                   a library of 100,000 items (one part: make bench BENCH=\"library\"; parts: noop crop review fanvue library comfy)"
	@echo "  make examples    regenerate examples/demo/images with elena-dev"
	@echo "  make schema      regenerate schema/manifest.schema.json and the embedded SQL migrations"
	@echo "  make clean-demo  delete the demo library ($(DEMO_LIBRARY)/)"
	@echo "  make crash       the crash campaign: $(CRASH_IMAGES) images, $(CRASH_KILLS) SIGKILLs, SQLite and PostgreSQL;"
	@echo "                   then $(CRASH_DB_RESTARTS) restarts of the ledger's PostgreSQL mid-upload (direct and PgBouncer)"
	@echo "  make fuzz        the manifest fuzzer, long (FUZZ_ITERATIONS=$(FUZZ_ITERATIONS)); make test runs 3,000 cases"
	@echo "  make model       the model-based test, long (MODEL_ACTIONS=$(MODEL_ACTIONS) seeded random actions on the binary;"
	@echo "                   make test plays 300; replay one with Tests/Model/model_test.py --seed N)"

deps:
	@scripts/install-deps

# The face models for the no_face and lips_only strategies: MediaPipe's, from the pinned PyPI wheel, converted
# to ONNX once and checked by SHA-256 (scripts/install-models; models/README.md says why these and their licence).
models: deps
	@scripts/install-models .build/models

build: deps
	swift build

test:
	@scripts/install-deps --test
	@scripts/run-tests $(TEST_ARGS)

# The real photographs of the demo: public-domain samples from the pinned scikit-image wheel (the ones the tests
# use, made by scripts/fetch-test-faces), copied into examples/demo/photos/ (ignored by git).
DEMO_PHOTOS := astronaut_portrait.png astronaut_two_faces.png camera_portrait.jpg astronaut_rot_p15.png \
	astronaut_exif6.jpg no_face_coffee.png
demo-photos: deps
	@scripts/fetch-test-faces .build/test-faces
	@mkdir -p examples/demo/photos
	@for f in $(DEMO_PHOTOS); do cp -p .build/test-faces/$$f examples/demo/photos/$$f; done

# elena-run exits 3 when it stopped at the human review gate with nothing failed: expected for the demo.
# ELENA_LIBRARY and DATABASE_URL would override the manifest: the demo never touches a real library or database.
demo: deps build models demo-photos
	@echo; echo "make demo: running $(DEMO_MANIFEST) (real photographs and stylised ComfyUI images; faces cut away)"; echo
	@rc=0; env -u ELENA_LIBRARY -u DATABASE_URL .build/debug/elena-run $(DEMO_MANIFEST) || rc=$$?; \
	if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then echo "make demo: elena-run failed (exit $$rc)" >&2; exit $$rc; fi; \
	echo; \
	if [ $$rc -eq 3 ]; then echo "Stopped at the review gate (exit 3): that is expected, nothing failed."; \
	else echo "Done (exit 0): nothing is waiting for review."; fi; \
	echo "Results are in the library folder $(DEMO_LIBRARY)/:"; \
	echo "  look at     $(DEMO_LIBRARY)/3_review/$(DEMO_DROP)/   (the crops waiting for your review: the faces are cut away)"; \
	echo "  move into   $(DEMO_LIBRARY)/4_approved/   to publish,  or  $(DEMO_LIBRARY)/rejected/   to drop"; \
	echo "  published   $(DEMO_LIBRARY)/outbox/$(DEMO_DROP)/   (images + .json sidecars)"; \
	echo "Review them in your browser (approve, reject, undo) with one command:"; \
	echo "  $(CURDIR)/.build/debug/elena-run review $(DEMO_MANIFEST)"; \
	echo "then run 'make demo' again to publish the approved ones. The binary is .build/debug/elena-run;"; \
	echo "'make install' puts it on your PATH (in ~/.local/bin) with the models, completions and a man page."

# make install: the release binary and its image library (OpenCV, loaded when an image is read), the face models, completions for bash, zsh and fish, and a man page, under
# PREFIX (default ~/.local: the binary in ~/.local/bin, the models in ~/.local/share/elena-run/models). make
# uninstall removes exactly those files (scripts/install-elena-run lists them); libraries and ledgers stay.
PREFIX ?= $(HOME)/.local
install: deps models
	swift build -c release --product elena-run
	swift build -c release --product ElenaOpenCV
	@scripts/install-elena-run "$(PREFIX)" .build/release/elena-run

uninstall:
	@scripts/install-elena-run --uninstall "$(PREFIX)"

bench: deps
	@scripts/bench $(BENCH)

examples: build
	.build/debug/elena-dev examples examples/demo/images

# Written through a temporary file so a failing command never leaves a truncated schema behind.
schema: build
	.build/debug/elena-run schema > schema/manifest.schema.json.tmp || { rm -f schema/manifest.schema.json.tmp; exit 1; }
	mv schema/manifest.schema.json.tmp schema/manifest.schema.json
	scripts/embed-migrations

clean-demo:
	rm -rf $(DEMO_LIBRARY) examples/demo/photos

# Leaks and growth: valgrind over the native shim tests (about 5 minutes), then 1,000 crops in one process.
check-leaks: models
	@scripts/fetch-test-faces .build/test-faces
	sh Tests/CVisionNative/run.sh --valgrind
	ELENA_MODELS_DIR=$(CURDIR)/.build/models ELENA_TEST_FACES=$(CURDIR)/.build/test-faces ELENA_REQUIRE_FACES=1 \
		swift test --filter MemoryTests

# AddressSanitizer over the binary and the image library: this package's code instrumented in .build, its
# dependencies as they are (about 3 minutes; the next plain build compiles the package's own modules again).
check-asan: models
	@scripts/check-asan

# The manifest fuzzer for longer than `make test` runs it: FUZZ_ITERATIONS cases (seeded and printed; replay one
# with ELENA_FUZZ_SEED=<seed>).
FUZZ_ITERATIONS ?= 300000
fuzz: deps
	ELENA_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) swift test --filter "ManifestFuzzTests|ImageHeaderFuzzTests"

# The crash campaign at full size on both stores (make test runs 30 images and 20 kills): the real binary killed
# with SIGKILL CRASH_KILLS times at seeded random moments of a CRASH_IMAGES-image drop to the fake Fanvue.
CRASH_IMAGES ?= 200
CRASH_KILLS ?= 50
CRASH_DB_RESTARTS ?= 20
crash: deps
	scripts/install-deps --test
	ELENA_CRASH_IMAGES=$(CRASH_IMAGES) ELENA_CRASH_KILLS=$(CRASH_KILLS) ELENA_CRASH_DB_RESTARTS=$(CRASH_DB_RESTARTS) \
		ELENA_TEST_STEPS=swift scripts/run-tests --filter "FanvueCrashTests|DatabaseFaultTests"

# The model-based test for longer than `make test` plays it (Tests/Model/README.md): MODEL_ACTIONS seeded random
# actions on the built binary, from seed 1000, the invariant checked after each; a failure prints its replay command.
MODEL_ACTIONS ?= 10000
model: build models
	scripts/install-deps --test
	scripts/fetch-test-faces .build/test-faces
	ELENA_MODEL_TOTAL=$(MODEL_ACTIONS) ELENA_BIN=$(CURDIR)/.build/debug/elena-run ELENA_MODELS_DIR=$(CURDIR)/.build/models \
		ELENA_TEST_FACES=$(CURDIR)/.build/test-faces .build/test-venv/bin/python -m pytest -q -s -p no:cacheprovider Tests/Model -k long

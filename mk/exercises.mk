# Exercises (exercises/README.md): a chapter with its lesson cut out, checked by its own tests.
#   make exercise-N    build your exercises/NN-name/ (N as in make chapter-N) into
#                      $(BIN_DIR)/exercise/NN-name and run the chapter's claims against it, one
#                      verdict each; exit 0 when all hold. SAN=address,undefined works too.
#   make exercises     remake every exercise from its chapter's code today (scripts/exercise.sh
#                      refresh); tests/exercises.bats fails when one is stale
#   make exercise-sweep   all the claims of every exercise, against the chapter and the starting
#                      point (make check runs it)
#   make exercise-wrong   every wrong solution (exercises/NN-name/wrong/*.recipe) is rejected by
#                      the claim its header names, its failure seen as the kind that picks the
#                      hint for its mistake, and the chapter's server meets those claims
#                      (make check runs it; tests/exercises.bats too)
.PHONY: exercises exercise-bins exercise-sweep exercise-wrong exercise-wrong-bins

EXERCISES := $(patsubst exercises/%/recipe,%,$(wildcard exercises/[0-9]*/recipe))

# exercise_parts NN-name: what the exercise links: the exercise's own copy of each file it brings
# (its server.c, or 04's heap.c), compiled here, and the object make all built for every other
# part of the chapter (the Makefile's objects): sixteen programs compile one file each, not ten.
exercise_parts = $(foreach f,$(call chapter_src,$(1)),$(or \
    $(wildcard exercises/$(1)/$(notdir $(f))),$(call objects,$(f))))

# The same flags and parts as the chapter; -I finds a chapter's own headers from exercises/.
exercise_number = $(patsubst 0%,%,$(firstword $(subst -, ,$(1))))
define exercise_rule
$(BIN_DIR)/exercise/$(1): $(call exercise_parts,$(1)) $(wildcard chapters/$(1)/*.h) $(COMMON_HDR) $(FLAGS_STAMP)
	@mkdir -p $$(@D)
	$(CC) $(CFLAGS) -Ichapters/$(1) $(LDFLAGS) -o $$@ $(call exercise_parts,$(1)) $(LDLIBS) || \
	    { echo "exercises/$(1) does not compile yet: fix the first error above, then make exercise-$(call exercise_number,$(1)) again" >&2; exit 1; }
endef
$(foreach e,$(EXERCISES),$(eval $(call exercise_rule,$(e))))

exercise-bins: $(addprefix $(BIN_DIR)/exercise/,$(EXERCISES))

# exercise-2 and exercise-02 both name exercises/02-*. An unknown N gets the list, and builds
# nothing: tests/exercises.bats asks for one while other test files run the binaries it would
# relink (a chapter run as its linker wrote it: "Permission denied").
exercise_named = $(firstword $(filter $(shell printf %02d $(1) 2>/dev/null)-%,$(EXERCISES)))
exercise-%: $$(if $$(call exercise_named,$$*),all install-test-deps $$(addprefix $(BIN_DIR)/exercise/,$$(call exercise_named,$$*)))
	@scripts/exercise.sh check "$*"

exercises:
	@scripts/exercise.sh refresh

# Every claim of every exercise, twice: the chapter's own server passes them all, the starting
# point as shipped does not. A few minutes, so in make check, not make test (which checks one
# claim each way: tests/exercises.bats).
check: exercise-sweep
exercise-sweep: all install-test-deps exercise-bins
	@scripts/exercise.sh sweep

# A wrong solution is a recipe too (scripts/exercise.sh), applied to the chapter's code: the
# classic mistake, built as the chapter is, into $(BIN_DIR)/exercise/wrong/NN-name/NAME. Its
# changed files go to NAME.src/ beside it, and the build takes them in place of the chapter's.
WRONG := $(patsubst exercises/%.recipe,%,$(wildcard exercises/[0-9]*/wrong/*.recipe))
# wrong_parts RECIPE NN-name DIR: DIR's copy of each file RECIPE changes, compiled here, and the
# object of every other part of the chapter, as exercise_parts.
wrong_parts = $(foreach f,$(call chapter_src,$(2)),$(if $(filter $(f),$(shell sed -n 's/^@file //p' $(1))),$(3)/$(notdir $(f)),$(call objects,$(f))))
# wrong_build RECIPE NN-name BINARY: the recipe's files made into BINARY.src/, then the build.
define wrong_build
	@rm -rf $(3).src && mkdir -p $(3).src
	@scripts/exercise.sh make $(2) $(3).src $(1)
	$(CC) $(CFLAGS) -Ichapters/$(2) $(LDFLAGS) -o $(3) $(call wrong_parts,$(1),$(2),$(3).src) $(LDLIBS)
endef
define wrong_rule
$(BIN_DIR)/exercise/wrong/$(subst /wrong/,/,$(1)): exercises/$(1).recipe $(call chapter_src,$(2)) $(call objects,$(call chapter_src,$(2))) $(wildcard chapters/$(2)/*.h) $(COMMON_HDR) $(FLAGS_STAMP)
	$(call wrong_build,exercises/$(1).recipe,$(2),$$@)
endef
$(foreach w,$(WRONG),$(eval $(call wrong_rule,$(w),$(firstword $(subst /, ,$(w))))))

exercise-wrong-bins: $(foreach w,$(WRONG),$(BIN_DIR)/exercise/wrong/$(subst /wrong/,/,$(w)))

check: exercise-wrong
exercise-wrong: all install-test-deps exercise-wrong-bins
	@scripts/exercise.sh wrong

# make exercise-attempt EXERCISE=NN-name RECIPE=FILE OUT=BINARY: the chapter with RECIPE applied,
# built into BINARY (tests/exercises.bats builds its broken attempts so).
.PHONY: exercise-attempt
exercise-attempt: $(call objects,$(call chapter_src,$(EXERCISE)))
	$(call wrong_build,$(RECIPE),$(EXERCISE),$(OUT))

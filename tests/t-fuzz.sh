# shellcheck shell=sh disable=SC2154 # TESTS comes from lib.sh
# The fuzz corpus (tests/fuzz-corpus, grown by make fuzz) replays through
# the config parser and the exclude matcher without a crash.

t_fuzz_corpus_replays_without_a_crash() {
	[ -x "$TESTS/fuzz" ] || fail "tests/fuzz is not built (make tests/fuzz)"
	"$TESTS/fuzz" "$TESTS"/fuzz-corpus/* > "$T/fuzz.log" 2>&1 ||
		fail "replay failed: $(tail -n 3 "$T/fuzz.log")"
	grep -q "inputs replayed" "$T/fuzz.log" || fail "nothing replayed"
}

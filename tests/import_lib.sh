# tests/import_lib.sh - what the importers' tests share (sourced after
# lib.sh, with HB naming the binary): a trace's figures from
# `trace stats --json`, as one line each, to compare with the numbers the
# expect.py scripts under tests/data/import/ compute independently.

# shape FILE: "ops allocs callocs memaligns reallocs frees peak_live threads"
shape() {
	"$HB" trace stats --json "$1" 2>/dev/null |
		jq -r '[.ops, .allocs, .callocs, .memaligns, .reallocs, .frees, .peak_live_bytes, .threads] | map(tostring) | join(" ")'
}
# realities FILE: the format, the import counts in import.h's order, then
# pid and processes ("-" when the log has no processes)
realities() {
	"$HB" trace stats --json "$1" 2>/dev/null | jq -r '.metadata | [.["imported-from"],
		.["import-unknown-frees"], .["import-unknown-reallocs"], .["import-lost-frees"],
		.["import-failed-calls"], .["import-zero-sizes"], .["import-truncated-lines"],
		.["import-other-lines"], .["import-other-processes"], .pid // "-", .processes // "-"] | join(" ")'
}
# meta FILE KEY: one metadata value, or "none"
meta() { "$HB" trace stats --json "$1" 2>/dev/null | jq -r ".metadata[\"$2\"] // \"none\""; }
# ops FILE: the trace's op lines, as `trace convert` writes them
ops() { "$HB" trace convert "$1" "$T/ops.trace" 2>/dev/null && grep -v '^#' "$T/ops.trace"; }

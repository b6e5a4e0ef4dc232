#!/usr/bin/env bash
# Crash-safety soak test: trains the ring preset (shortened), kills it with SIGKILL at random
# moments, resumes, and repeats; each completed round's final weights must equal an
# uninterrupted run's, bit for bit.
#
#   scripts/kill_loop.sh [KILLS] [WORK_DIR]        (default: 200 kills in a fresh temp dir)
#
# Needs a release build: `cargo build --release -p gan-cli` (or set GAN=/path/to/gan).
# Reports kills tried, resumes that worked, rounds completed and whether every round's final
# state.safetensors equals the reference run's. Exit status 0 only if all of them held.
set -euo pipefail
cd "$(dirname "$0")/.."

KILLS=${1:-200}
WORK=${2:-$(mktemp -d)}
GAN=${GAN:-target/release/gan}
[ -x "$GAN" ] || { echo "no $GAN: run cargo build --release -p gan-cli first" >&2; exit 2; }
mkdir -p "$WORK"

# The ring preset, short, checkpointing often, one thread (the same arithmetic every run).
CFG="$WORK/kill.toml"
sed -e 's/^steps = .*/steps = 1500/' -e 's/^log_every = .*/log_every = 50/' \
    -e 's/^eval_every = .*/eval_every = 500/' -e 's/^eval_samples = .*/eval_samples = 500/' \
    -e 's/^checkpoint_every = .*/checkpoint_every = 25/' -e 's/^threads = .*/threads = 1/' \
    configs/ring.toml > "$CFG"
grep -q '^checkpoint_every = 25$' "$CFG" && grep -q '^threads = 1$' "$CFG" \
    || { echo "configs/ring.toml changed: update the sed lines above" >&2; exit 2; }

final_state() { ls -d "$1"/checkpoints/step-* | sort | tail -1; }

echo "reference run (uninterrupted) ..."
"$GAN" train --config "$CFG" --out "$WORK/reference" > "$WORK/reference.log" 2>&1
REF=$(sha256sum "$(final_state "$WORK/reference")/state.safetensors" | cut -d' ' -f1)
echo "reference final state sha256 $REF"

kills=0 resumes=0 resume_failures=0 rounds=0 mismatches=0 round=1
run="$WORK/round-$round"
while [ "$kills" -lt "$KILLS" ]; do
    if [ -d "$run/checkpoints" ] && ls "$run"/checkpoints/step-* > /dev/null 2>&1; then
        "$GAN" train --resume "$run" > "$WORK/last.log" 2>&1 &
        resuming=1
    else
        rm -rf "$run"
        "$GAN" train --config "$CFG" --out "$run" > "$WORK/last.log" 2>&1 &
        resuming=0
    fi
    pid=$!
    # A random moment between 0.05 and 2 s (start-up, training, checkpoint writes, pruning).
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.05 + (r % 1950) / 1000 }')"
    if kill -9 "$pid" 2> /dev/null; then
        wait "$pid" 2> /dev/null || true
        kills=$((kills + 1))
        [ "$resuming" = 1 ] && resumes=$((resumes + 1))
        continue
    fi
    # It ended before the kill: finished, or failed. A kill right after the final checkpoint
    # leaves a complete run, which the next resume reports as such.
    status=0
    wait "$pid" || status=$?
    if [ "$status" = 0 ] || grep -q "is already complete at step" "$WORK/last.log"; then
        [ "$resuming" = 1 ] && resumes=$((resumes + 1))
        got=$(sha256sum "$(final_state "$run")/state.safetensors" | cut -d' ' -f1)
        rounds=$((rounds + 1))
        if [ "$got" != "$REF" ]; then
            mismatches=$((mismatches + 1))
            echo "round $round: final state differs ($got)" >&2
        fi
        round=$((round + 1))
        run="$WORK/round-$round"
    else
        resume_failures=$((resume_failures + 1))
        echo "a run failed after $kills kills; its log:" >&2
        tail -5 "$WORK/last.log" >&2
        break
    fi
done

# Finish the round in progress and check it too.
if [ -d "$run/checkpoints" ] && [ "$resume_failures" = 0 ]; then
    if "$GAN" train --resume "$run" > "$WORK/last.log" 2>&1; then
        resumes=$((resumes + 1))
        rounds=$((rounds + 1))
        got=$(sha256sum "$(final_state "$run")/state.safetensors" | cut -d' ' -f1)
        [ "$got" = "$REF" ] || { mismatches=$((mismatches + 1)); echo "round $round differs" >&2; }
    else
        resume_failures=$((resume_failures + 1))
        tail -5 "$WORK/last.log" >&2
    fi
fi

echo "kills tried: $kills; resumes that worked: $resumes; failed runs: $resume_failures"
echo "rounds completed: $rounds; final states equal to the uninterrupted run: $((rounds - mismatches))/$rounds"
[ "$resume_failures" = 0 ] && [ "$mismatches" = 0 ] && [ "$rounds" -gt 0 ]

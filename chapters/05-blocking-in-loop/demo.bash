# Sourced by scripts/demo.sh after the shared scenario.
scenario "The dying disk: one read of 2500 ms goes first, then 9 reads of 50 ms" \
    -c 10 -n 10 -d 50 --slow 2500 -t 1500

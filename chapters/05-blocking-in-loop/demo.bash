# Sourced by scripts/demo.sh after the shared scenario.
DRAIN_SECONDS=1.5 # the server is still busy with the slow read when the client gives up
scenario "The dying disk: one read of 2500 ms goes first, then 9 reads of 50 ms" \
    -c 10 -n 10 -d 50 --slow 2500 -t 1500

# 12 io-uring: real reads through io_uring; the deadline is a linked timeout.
# Sourced by scripts/demo.sh after the shared scenario.
DRAIN_SECONDS=1.5 # let the slow read finish (2.5 s) after the client has given up (1.5 s)
named_scenario dying-disk
DRAIN_SECONDS=0.5
scenario "One read of 6000 ms against the server's 4000 ms deadline: RC 1 at 4 s, not at 6 s" \
    -c 1 -n 1 -d 6000 -t 8000
say "The kernel's worker threads (iou-wrk) each way of reading starts: 3 bursts of 64 reads"
echo "\$ chapters/12-io-uring/workers.bash"
chapters/12-io-uring/workers.bash

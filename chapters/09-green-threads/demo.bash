# Sourced by scripts/demo.sh after the shared scenario (-m green: green_sleep on the hub).
# The same loads with the disk read made three ways: the seed's three rows, side by side.
DRAIN_SECONDS=1.5 # the server is still busy with the slow read when the client gives up
scenario "-m green: the dying disk: one read of 2500 ms goes first, then 9 reads of 50 ms" \
    -c 10 -n 10 -d 50 --slow 2500 -t 1500
SERVER_FLAGS=(-m unpatched)
DRAIN_SECONDS=2 # the hub answers the last of the ten at 3 s
scenario "-m unpatched: the shared scenario, with a plain blocking sleep for the read" \
    -c 10 -n 10 -d 300 -t 1500
DRAIN_SECONDS=1.5
scenario "-m unpatched: the dying disk: the 2500 ms read stops the hub, every fast read waits" \
    -c 10 -n 10 -d 50 --slow 2500 -t 1500
SERVER_FLAGS=(-m unpatched -T 1000)
DRAIN_SECONDS=1
scenario "-m unpatched -T 1000: one read of 1200 ms, then 5 of 400 ms: the seed's log lines" \
    -c 6 -n 6 -d 400 --slow 1200 -t 5000
SERVER_FLAGS=(-m tpool)
DRAIN_SECONDS=0.5
scenario "-m tpool: the shared scenario, the blocking sleep on 4 worker threads" \
    -c 10 -n 10 -d 300 -t 1500
DRAIN_SECONDS=1.5
scenario "-m tpool: the dying disk" -c 10 -n 10 -d 50 --slow 2500 -t 1500

# Sourced by scripts/demo.sh after the shared scenario (-m green: green_sleep on the hub).
# The same loads with the disk read made three ways: the seed's three rows, side by side.
DRAIN_SECONDS=1.5 # the server is still busy with the slow read when the client gives up
named_scenario dying-disk "-m green: "
SERVER_FLAGS=(-m unpatched)
DRAIN_SECONDS=2 # the hub answers the last of the ten at 3 s
named_scenario shared "-m unpatched, a plain blocking sleep for the read: "
DRAIN_SECONDS=1.5
named_scenario dying-disk "-m unpatched, the slow read stops the hub: "
SERVER_FLAGS=(-m unpatched -T 1000)
DRAIN_SECONDS=1
scenario "-m unpatched -T 1000: one read of 1200 ms, then 5 of 400 ms: the seed's log lines" \
    -c 6 -n 6 -d 400 --slow 1200 -t 5000
SERVER_FLAGS=(-m tpool)
DRAIN_SECONDS=0.5
named_scenario shared "-m tpool, the blocking sleep on 4 worker threads: "
DRAIN_SECONDS=1.5
named_scenario dying-disk "-m tpool: "

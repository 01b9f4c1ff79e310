# Sourced by scripts/demo.sh after the shared scenario (one loop).
# Every request below is under /block/, so each is read on its loop: /block/0 for 2500 ms (it
# blocks its loop), the 19 after it for 0 ms (they block nothing).
DRAIN_SECONDS=2.5 # the blocked loop answers the requests it was given only when it is free
SERVER_FLAGS=(-j 2)
scenario "Two loops (SO_REUSEPORT), one blocked for 2500 ms; 19 reads of 0 ms follow, each gives up after 1000 ms" \
    -c 20 -n 20 -d 0 --slow 2500 --path /block/ -t 1000
SERVER_FLAGS=(-j 2 -m exclusive)
scenario "The same with one shared listening socket, woken with EPOLLEXCLUSIVE" \
    -c 20 -n 20 -d 0 --slow 2500 --path /block/ -t 1000

# The two loads every chapter is measured by, defined once. Sourced by the demos (scripts/demo.sh,
# chapters/*/demo.bash, make debug-5), the tests (tests/helpers.bash) and make compare/figures.
#   shared      10 clients at once, each asks for one read of 300 ms and gives up after 1500 ms
#               (the seed's make_requests.py run ten times at once): a serial server answers the
#               k-th after k x 300 ms, so about half time out; a concurrent one answers all in
#               about 300 ms.
#   dying-disk  one read of 2500 ms goes first, then 9 reads of 50 ms 100 ms later: only the
#               slow one should be slow.
SCENARIOS=(shared dying-disk)
declare -gA SCENARIO_ARGS=(
    [shared]="-c 10 -n 10 -d 300 -t 1500"
    [dying-disk]="-c 10 -n 10 -d 50 --slow 2500 -t 1500"
)
declare -gA SCENARIO_TITLE=([shared]="The shared scenario" [dying-disk]="The dying disk")
declare -gA SCENARIO_DETAIL=(
    [shared]="10 clients at once, each reads 300 ms and gives up after 1500 ms"
    [dying-disk]="one read of 2500 ms goes first, then 9 reads of 50 ms; clients give up after 1500 ms"
)
SCENARIO_TIMEOUT_MS=1500 # the client timeout both use: the figures draw it as a line

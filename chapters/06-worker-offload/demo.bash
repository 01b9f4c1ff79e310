# Sourced by scripts/demo.sh after the shared scenario.
DRAIN_SECONDS=1.5 # the server is still busy with the slow read when the client gives up
named_scenario dying-disk

"""The plant's files in its state dir."""

LOCK_NAME = "plant.lock"  # flock: one plant per state dir
LOG_NAME = "plant.log"  # everything the plant says
REGISTERS_NAME = "plant-registers.sqlite3"  # the simulated meters' registers

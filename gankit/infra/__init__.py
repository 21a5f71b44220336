"""What every layer stands on: the user-facing error, atomic files and checksums, the data directory, devices and
precision, checkpoints, run directories, registry-package fetching. Imports nothing else of gankit."""

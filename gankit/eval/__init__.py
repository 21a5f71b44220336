"""`gankit evaluate`: generated images scored beside real ones (the floor), with the protocol written down."""

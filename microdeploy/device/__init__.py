"""Starting the firmware where it runs (flash), finding it again (state), and the
hardware-in-the-loop check of `microdeploy run` (hil)."""

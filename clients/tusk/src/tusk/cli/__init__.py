"""The `tusk` command: pachctl's grammar (`tusk VERB NOUN ARGS`, `repo@ref:/path`) over `tusk.Client`."""

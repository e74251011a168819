"""Project generation (`microdeploy init`): templates, vendored runtime, manifest."""

"""The plugin author's kit: conformance checks (:mod:`.testing`), the plugin scaffold, and
fitting a device to measured pulse data (:mod:`.fit`)."""

"""The host, the bottom layer: the hook specifications, the plugin manager and the records
plugins register. Records are plain data; what they mean is up to the layers above."""

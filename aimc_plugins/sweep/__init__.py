"""The comparison engine: sweep specs (:mod:`.spec`), a crash-safe results store (:mod:`.store`),
parallel execution on a process pool or Dask (:mod:`.execute`), and the loop tying them together
(:mod:`.engine`)."""

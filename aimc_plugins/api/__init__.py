"""The Python API a notebook or script uses: run a comparison (:func:`compare`), read a results
store as tables (:func:`load_results`, :func:`load_epochs`) and write its report
(:func:`write_report`). The top layer beside the command line, which is built on it: ``aimc
compare`` and ``aimc report`` call these same functions. Import them from ``aimc_plugins``."""

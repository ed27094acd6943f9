"""The foundation every stage stands on: seeds, devices, folders and results files
(:mod:`~fas_lib.core.utils`) and the one process pool of the package
(:mod:`~fas_lib.core.parallel`). Nothing here imports another part of ``fas_lib``.
"""

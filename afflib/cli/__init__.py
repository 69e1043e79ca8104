"""Command-line tools installed as console scripts (``afflib-download-params`` ...); ``scripts/`` wraps them.

Each module has ``main(argv) -> int`` (for tests and wrappers) and ``run()`` (the console-script target).
"""

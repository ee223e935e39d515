"""In-memory test doubles of every port, shipped with the core.

They are pure (no file, socket or process I/O) and pass the same contract suites
(``tests/contract/``) as the real adapters, so unit tests of the use cases that run
against them exercise faithful behaviour. Import them from their submodules
(:mod:`chantal_core.testing.pool`, :mod:`~chantal_core.testing.fetch`,
:mod:`~chantal_core.testing.publish`, :mod:`~chantal_core.testing.progress`).
"""

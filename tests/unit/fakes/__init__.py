"""In-memory fakes of the feature ports, one module per feature (as cosmicpython's FakeRepository).

Use cases run against these in unit tests; the SQL adapters are proven by the integration tests.
"""

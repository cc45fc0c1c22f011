"""The fixture domain core: every rule that decides what happens to a fixture, in plain Python.

Nothing here imports an AWS SDK or reads the environment (import-linter keeps it so). The workflows only read,
call this core (through one Lambda), write what it returns and route on its decision.
"""

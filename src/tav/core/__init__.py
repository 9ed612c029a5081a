"""Pure domain of TAV Engine: the workflow document, states, errors and events.

Depends on the standard library and Pydantic only.
"""

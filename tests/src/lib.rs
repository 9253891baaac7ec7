//! Shared helpers for the end-to-end tests in `tests/tests/`: locating the workspace, the fixtures and the built `ferry` binary.

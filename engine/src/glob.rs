//! Shell-style glob patterns (fnmatch semantics).

//! Cache keys byte-identical to the S3verless reference.

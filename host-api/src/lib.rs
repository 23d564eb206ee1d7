//! Host side of the runbox WIT contract.

//! The process's open-file limit: every live chat holds one long poll, so the soft limit is
//! raised to the hard one at start (the listeners then bound inbound connections within it).

use tracing::{info, warn};

/// Raises the soft open-file limit as far as the hard limit allows.
pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!(open_file_limit = limit, "open-file limit raised"),
        Err(e) => warn!(error = %e, "open-file limit left as it was"),
    }
}

//! `tke:recycle/log`: guest log lines into the host's `tracing` log, bounded.

use super::LogLevel;
use super::policy_world::tke::recycle::log::Host;

/// Longest line kept; the rest is cut so a guest cannot flood the operator's terminal.
const MAX_LINE_BYTES: usize = 2048;

/// A guest's log sink: tags lines with the module name and stops after a budget of lines.
pub struct GuestLog {
    module: String,
    lines_left: u32,
}

impl GuestLog {
    /// A sink for `module` that accepts at most `max_lines` lines per call.
    pub fn new(module: &str, max_lines: u32) -> Self {
        Self {
            module: module.to_owned(),
            lines_left: max_lines,
        }
    }
}

impl Host for GuestLog {
    async fn write(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        if self.lines_left == 0 {
            return Ok(());
        }
        self.lines_left -= 1;
        let mut line = message;
        if line.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str("...");
        }
        if self.lines_left == 0 {
            line.push_str(" (further log lines from this call are dropped)");
        }
        let module = self.module.as_str();
        match level {
            LogLevel::Debug => tracing::debug!(module, "{line}"),
            LogLevel::Info => tracing::info!(module, "{line}"),
            LogLevel::Warn => tracing::warn!(module, "{line}"),
            LogLevel::Error => tracing::error!(module, "{line}"),
        }
        Ok(())
    }
}

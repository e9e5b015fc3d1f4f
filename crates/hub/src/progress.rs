//! How a download shows itself.

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on standard error when it is a terminal, else a line when a download starts and ends.
    Terminal,
    /// Nothing (tests, and callers that report on their own).
    Silent,
}

impl ProgressMode {
    /// A one-off remark about the cache.
    pub fn note(self, text: &str) {
        if self == ProgressMode::Terminal {
            eprintln!("{text}");
        }
    }

    pub(crate) fn start(self, url: &str, total: Option<u64>, resumed_from: u64) -> Progress {
        if self == ProgressMode::Silent {
            return Progress { bar: None };
        }
        let size = total.map_or("unknown size".to_string(), |t| format!("{:.1} MB", t as f64 / 1e6));
        let resumed =
            if resumed_from > 0 { format!(", resuming at {resumed_from} bytes") } else { String::new() };
        let bar = ProgressBar::new(total.unwrap_or(0));
        if bar.is_hidden() {
            eprintln!("downloading {url} ({size}{resumed})");
            return Progress { bar: None };
        }
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}")
                .expect("valid template"),
        );
        bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
        bar.set_position(resumed_from);
        Progress { bar: Some(bar) }
    }
}

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

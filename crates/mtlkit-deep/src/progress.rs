//! Progress bars, drawn only on a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps: visible when `show` and stderr is a terminal, hidden otherwise.
pub fn bar(show: bool, len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if show && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        pb.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed} ({eta} left)")
        {
            pb.set_style(style);
        }
    } else {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb
}

//! What the command-line examples (`otp`, `mfactl`) and their tests share: running a
//! tool whose `run` takes the arguments and both streams and returns the exit status.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// The status of a run that did what was asked.
pub const SUCCESS: u8 = 0;
/// The status of bad input or a usage error.
pub const BAD_INPUT: u8 = 2;

/// A tool's whole work but `main`'s: the arguments (the program name first), where
/// results go, where messages go; the exit status.
pub type Run = fn(Vec<OsString>, &mut dyn Write, &mut dyn Write) -> u8;

/// A tool's `main`: `run` on the process's arguments and streams, exiting with its
/// status.
pub fn main(run: Run) -> ExitCode {
    let args = std::env::args_os().collect();
    let status = run(
        args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(status)
}

/// Parses `args` as the tool's command line `C`. `--help` and `--version` arrive here
/// too: clap's text goes to `out` with status 0 ([`SUCCESS`]), a usage error to `err`
/// with status 2 ([`BAD_INPUT`]); either way, `Err` holds the status to exit with.
/// Nothing more can be said if the stream itself is closed.
///
/// # Errors
///
/// The exit status, when the command line is not one to run.
pub fn parse<C: clap::Parser>(
    args: Vec<OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<C, u8> {
    C::try_parse_from(args).map_err(|e| {
        if e.use_stderr() {
            let _ = write!(err, "{}", e.render());
            BAD_INPUT
        } else {
            let _ = write!(out, "{}", e.render());
            SUCCESS
        }
    })
}

/// What one run of a tool did, its streams captured: for the tools' tests, which
/// report what is not as expected by panicking.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status.
    pub status: u8,
    /// What it wrote to standard output.
    pub stdout: String,
    /// What it wrote to standard error.
    pub stderr: String,
}

#[allow(clippy::panic, reason = "test helpers fail the test by panicking")]
impl Outcome {
    /// Runs `run` in-process on `args` (the program name first).
    ///
    /// # Panics
    ///
    /// When the tool writes something that is not UTF-8.
    pub fn of(run: Run, args: Vec<OsString>) -> Self {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = run(args, &mut out, &mut err);
        let utf8 = |bytes| String::from_utf8(bytes).unwrap_or_else(|e| panic!("not UTF-8: {e}"));
        Self {
            status,
            stdout: utf8(out),
            stderr: utf8(err),
        }
    }

    /// Standard output as the one JSON value a `--json` run writes.
    ///
    /// # Panics
    ///
    /// When it is not one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {self:?}"))
    }

    /// Runs the tool `name` in-process on `args`, all of them strings.
    pub fn of_strs(run: Run, name: &str, args: &[&str]) -> Self {
        let all = std::iter::once(name).chain(args.iter().copied());
        Self::of(run, all.map(OsString::from).collect())
    }
}

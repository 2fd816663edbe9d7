//! The `seckill` binary as a child process: started with a [`Command`] the test builds (only
//! integration tests of the `seckill` crate know the binary's path), its output read line by
//! line with a bound, and killed (and reaped) on drop, so a failing test never leaves a server
//! behind.

use std::io::{BufRead as _, BufReader, Read};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

/// How long any child gets to print what a test waits for, or to exit.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// One line of a child's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Out(String),
    Err(String),
}

/// A child process, killed (and reaped) on drop, whose output arrives line by line. Start its
/// command with piped stdout and stderr.
#[derive(Debug)]
pub struct Running {
    pub child: Child,
    lines: Receiver<Option<Line>>,
    open_pipes: usize,
    /// Every line of stdout read so far.
    pub stdout: Vec<String>,
    /// Every line of stderr read so far.
    pub stderr: Vec<String>,
}

fn forward(pipe: impl Read + Send + 'static, tx: Sender<Option<Line>>, wrap: fn(String) -> Line) {
    // Drains the pipe at all times, so a chatty child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(Some(wrap(line))).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
}

impl Running {
    /// Spawns `command` (whose stdout and stderr must be piped).
    pub fn start(mut command: Command) -> Running {
        let mut child = command.spawn().unwrap_or_else(|e| panic!("the seckill binary starts: {e}"));
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("start the child with a piped stdout"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("start the child with a piped stderr"));
        forward(stdout, tx.clone(), Line::Out);
        forward(stderr, tx, Line::Err);
        Running { child, lines, open_pipes: 2, stdout: Vec::new(), stderr: Vec::new() }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line, or `None` once both pipes are closed; panics at `deadline`.
    pub fn next_line(&mut self, deadline: Instant) -> Option<Line> {
        while self.open_pipes > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Some(line)) => {
                    match &line {
                        Line::Out(l) => self.stdout.push(l.clone()),
                        Line::Err(l) => self.stderr.push(l.clone()),
                    }
                    return Some(line);
                }
                Ok(None) => self.open_pipes -= 1,
                Err(RecvTimeoutError::Disconnected) => self.open_pipes = 0,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no output within {PATIENCE:?}; stdout {:?}, stderr {:?}", self.stdout, self.stderr)
                }
            }
        }
        None
    }

    /// Reads until a line `pick` accepts and returns what it picked; panics after
    /// [`PATIENCE`] or if the output ends first.
    pub fn wait_for<T>(&mut self, what: &str, pick: impl Fn(&Line) -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        while let Some(line) = self.next_line(deadline) {
            if let Some(found) = pick(&line) {
                return found;
            }
        }
        panic!("the output ended without {what}; stdout {:?}, stderr {:?}", self.stdout, self.stderr)
    }

    /// Waits for `seckill: serving on URL` on stderr and returns the URL.
    pub fn serving_url(&mut self) -> String {
        self.wait_for("the serving line", |l| match l {
            Line::Err(l) => l
                .strip_prefix("seckill: serving on ")
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned),
            Line::Out(_) => None,
        })
    }

    /// `kill -9`: SIGKILL to this child (by its id), then reaps it. The exit status says it
    /// was killed by a signal.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().unwrap_or_else(|e| panic!("SIGKILL to the child: {e}"));
        self.child.wait().unwrap_or_else(|e| panic!("wait for the killed child: {e}"))
    }

    /// Reads everything until the child closes its output, then its exit status; panics after
    /// [`PATIENCE`].
    pub fn finish(self) -> Finished {
        self.finish_within(PATIENCE)
    }

    /// [`finish`](Running::finish) for a child that may work longer than [`PATIENCE`] (a
    /// bounded benchmark).
    pub fn finish_within(mut self, patience: Duration) -> Finished {
        let deadline = Instant::now() + patience;
        while self.next_line(deadline).is_some() {}
        // Both pipes are closed: the child has exited or is about to.
        let status = self.child.wait().unwrap_or_else(|e| panic!("wait for seckill: {e}"));
        Finished { status, stdout: std::mem::take(&mut self.stdout), stderr: std::mem::take(&mut self.stderr) }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Ours, by its id: never leave a server running after a test, passed or failed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child that has exited.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Finished {
    /// Stdout as one text.
    pub fn stdout(&self) -> String {
        self.stdout.join("\n")
    }

    /// Panics (showing the output) unless the child exited with status 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "{:?}: stdout {:?}, stderr {:?}", self.status, self.stdout, self.stderr);
        self
    }

    /// Exited non-zero with exactly one line on stderr, which is returned.
    #[track_caller]
    pub fn one_line_failure(&self) -> &str {
        assert!(!self.status.success(), "expected a failure; stdout {:?}", self.stdout);
        assert_eq!(self.stderr.len(), 1, "exactly one line on stderr: {:?}", self.stderr);
        self.failure()
    }

    /// Exited non-zero; its one `seckill: …` line on stderr (logs may precede it), returned.
    #[track_caller]
    pub fn failure(&self) -> &str {
        assert!(!self.status.success(), "expected a failure; stdout {:?}", self.stdout);
        let errors: Vec<&String> = self.stderr.iter().filter(|l| l.starts_with("seckill: ")).collect();
        assert_eq!(errors.len(), 1, "one error line: {:?}", self.stderr);
        assert_eq!(self.stderr.last(), Some(errors[0]), "the error is the last word: {:?}", self.stderr);
        errors[0]
    }
}

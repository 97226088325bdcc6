//! The `cityfix serve` process the binary's tests start: the demo city on a port of its own.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The demo city folder of the repository.
pub fn demo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford")
}

/// A `cityfix serve` process that is killed when dropped.
pub struct Server {
    pub url: String,
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    /// Starts the runner on the demo city with `data` as its folder; its log (stderr) goes to
    /// `log` when given, else nowhere.
    #[allow(dead_code)] // each test binary compiles this module; the crash proof passes arguments
    pub fn start(data: &Path, log: Option<&Path>) -> Server {
        Server::start_with(data, log, &[])
    }

    /// As [`Server::start`], with more arguments to `cityfix serve` (`--rate-limit off`).
    pub fn start_with(data: &Path, log: Option<&Path>, more: &[&str]) -> Server {
        Server::spawn(
            serve_command(Command::new(env!("CARGO_BIN_EXE_cityfix")), data, more),
            log,
        )
    }

    /// Starts `command` (a `cityfix serve`, perhaps behind a wrapper that `exec`s it) and reads
    /// the URL it prints first.
    pub fn spawn(mut command: Command, log: Option<&Path>) -> Server {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        // The first line on stdout is the URL; logs go to stderr.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let Some(url) = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
        else {
            let _ = child.kill();
            let said = log
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default();
            panic!("the runner did not print its URL first: `{line}`; its log: {said}");
        };
        let url = url.trim_end_matches('/').to_string();
        Server {
            child,
            url,
            _stdout: stdout,
        }
    }

    /// The process id of the runner.
    #[allow(dead_code)] // each test binary compiles this module; the disk proof looks into its mounts
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once, as a crash or power cut would.
    #[allow(dead_code)] // each test binary compiles this module; not every one kills
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program` (the `cityfix` binary) given the arguments of `cityfix serve` on the demo city with
/// `data` as its folder, a port of its own and a 2 s visibility timeout.
pub fn serve_command(mut program: Command, data: &Path, more: &[&str]) -> Command {
    program
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--visibility-timeout-secs",
            "2",
            "--config",
        ])
        .arg(demo_config())
        .arg("--data")
        .arg(data)
        .args(more);
    program
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

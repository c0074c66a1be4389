//! Whose CPU a run used: the server's, PostgreSQL's (every `postgres` process on the machine
//! that lives through the run: the server's pooled connections do) and the load generator's own,
//! read from `/proc` before and after. On a machine they share, this tells what the server side
//! would sustain without the generator beside it.

use std::time::Duration;

/// How long one of the clock ticks `/proc` counts process times in lasts (`getconf CLK_TCK`;
/// 100 a second where it cannot be asked, as on x86 and ARM Linux).
fn tick() -> Duration {
    static TICK: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TICK.get_or_init(|| {
        let per_second = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(100);
        Duration::from_secs(1) / per_second
    })
}

/// Cumulative CPU time (user + system) of the processes involved.
#[derive(Clone, Copy)]
pub struct CpuSample {
    server: Duration,
    postgres: Duration,
    generator: Duration,
}

impl CpuSample {
    /// The CPU used so far by `server_pid`, all PostgreSQL processes and this process.
    pub fn now(server_pid: u32) -> CpuSample {
        let mut postgres = Duration::ZERO;
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                if let Some(("postgres", cpu)) = process_cpu(&pid.to_string()) {
                    postgres += cpu;
                }
            }
        }
        CpuSample {
            server: process_cpu(&server_pid.to_string()).map_or(Duration::ZERO, |(_, c)| c),
            postgres,
            generator: process_cpu("self").map_or(Duration::ZERO, |(_, c)| c),
        }
    }

    /// CPU per operation between `earlier` and now, for `operations` completed.
    pub fn per_operation_since(&self, earlier: &CpuSample, operations: f64) -> CpuSplit {
        let per_op = |now: Duration, then: Duration| {
            now.saturating_sub(then).as_secs_f64() * 1e6 / operations.max(1.0)
        };
        CpuSplit {
            server_us: per_op(self.server, earlier.server),
            postgres_us: per_op(self.postgres, earlier.postgres),
            generator_us: per_op(self.generator, earlier.generator),
        }
    }
}

/// Microseconds of CPU per operation.
pub struct CpuSplit {
    server_us: f64,
    postgres_us: f64,
    generator_us: f64,
}

impl std::fmt::Display for CpuSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let server_side = self.server_us + self.postgres_us;
        write!(
            f,
            "CPU per op: server {:.0} µs + PostgreSQL {:.0} µs, generator {:.0} µs; \
             without the generator's share, {} cores would sustain {:.0}/s",
            self.server_us,
            self.postgres_us,
            self.generator_us,
            cores,
            cores as f64 * 1e6 / server_side.max(1.0)
        )
    }
}

/// The command name and CPU time of a process (`self` or a pid), from `/proc/<pid>/stat`.
fn process_cpu(pid: &str) -> Option<(&'static str, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let ticks = fields.get(11)?.parse::<u32>().ok()? + fields.get(12)?.parse::<u32>().ok()?;
    let kind = if comm == "postgres" {
        "postgres"
    } else {
        "other"
    };
    Some((kind, tick() * ticks))
}

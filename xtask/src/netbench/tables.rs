//! The tables of the network benches: throughput (with the tulip/tokio
//! ratios and syscalls per operation), memory per idle connection, and the
//! per-core projection and balance tables, with their notes.

use super::{
    Env, IDLE_CONNS, MEMORY_GOAL, Results, STRACE_SECS, Throughput, WARMUP_SECS, per_core,
};
use crate::bench::fmt_ns;

impl Results<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.runs.is_empty()
            && self.syscalls.is_empty()
            && self.memory.is_empty()
            && self.balance.is_empty()
    }

    pub(super) fn failures(&self) -> usize {
        self.runs.iter().filter(|(_, r)| r.is_err()).count()
            + self.syscalls.iter().filter(|(_, r)| r.is_err()).count()
            + self.memory.iter().filter(|(_, r)| r.is_err()).count()
            + self.balance.iter().filter(|(_, r)| r.is_err()).count()
    }

    /// The markdown tables and their notes.
    pub(super) fn tables(&self, env: &Env) -> String {
        let mut out = String::new();
        if !self.runs.is_empty() || !self.syscalls.is_empty() {
            out.push_str(&self.throughput_table(env));
        }
        if !self.memory.is_empty() {
            out.push('\n');
            out.push_str(&self.memory_table());
        }
        if self.runs.iter().any(|((w, _, _), _)| w.per_core) {
            out.push('\n');
            out.push_str(&per_core::projection(&self.runs));
        }
        if !self.balance.is_empty() {
            out.push('\n');
            out.push_str(&per_core::balance_table(&self.balance));
        }
        out
    }

    fn throughput_table(&self, env: &Env) -> String {
        let mut out = String::from(
            "| benchmark | server | ops/s | tulip/tokio ops/s | server CPU µs/op | tulip/tokio CPU | p99 µs | syscalls/op |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        let syscalls = |workload: &str, bin: &str| {
            self.syscalls
                .iter()
                .find(|(key, _)| *key == (workload, bin))
                .map_or("–".to_string(), |(_, r)| match r {
                    Ok(s) => format!("{:.2}", s.per_op(s.total)),
                    Err(_) => "failed".into(),
                })
        };
        for ((workload, pinning, server), outcome) in &self.runs {
            let name = format!("{}/{pinning}", workload.name);
            let peer = (server.runtime == "tulip")
                .then(|| {
                    self.runs.iter().find(|((w, p, s), _)| {
                        w.name == workload.name
                            && p == pinning
                            && s.family == server.family
                            && s.runtime == "tokio"
                    })
                })
                .flatten()
                .and_then(|(_, r)| r.as_ref().ok());
            let cells = match outcome {
                Ok(t) => {
                    let ratio = |f: fn(&Throughput) -> f64| {
                        peer.map_or("–".into(), |p| format!("{:.2}", f(t) / f(p)))
                    };
                    format!(
                        "{:.0} | {} | {} | {} | {}",
                        t.load.rps,
                        ratio(|t| t.load.rps),
                        fmt_ns(t.cpu_us_per_op()),
                        ratio(Throughput::cpu_us_per_op),
                        t.load.p99_us.map_or("–".into(), fmt_ns),
                    )
                }
                Err(_) => "failed | – | – | – | –".into(),
            };
            out.push_str(&format!(
                "| {name} | {} | {cells} | {} |\n",
                server.name,
                syscalls(workload.name, server.name)
            ));
        }
        for ((workload, bin), _) in &self.syscalls {
            if !self
                .runs
                .iter()
                .any(|((w, _, s), _)| w.name == *workload && s.name == *bin)
            {
                out.push_str(&format!(
                    "| {workload} | {bin} | – | – | – | – | – | {} |\n",
                    syscalls(workload, bin)
                ));
            }
        }
        let (warmup, secs) = (WARMUP_SECS, env.secs);
        out.push_str(&format!(
            "\nops = round trips (echo: loadgen, {secs} s after {warmup} s warm-up) or requests (http: wrk -t1, {secs} s; http2: h2load -t1, {secs} s); \
             split = server on core 0, client on core 1; same = both on core 0; \
             unpinned (the per_core loads) = the 2-thread servers (tulip --loops 2, tokio --workers 2) and the client share both cores, \
             so neither server has 2 cores of its own: compare their ops/s side by side and carry only CPU per op to bigger machines; \
             the tulip per-core servers run the Protocol-API servers (echo_protocol's, http_hello's) on every loop, \
             the tokio-mt peers the task-per-connection read/write_all code of echo_net_tokio and http_hello_tokio.\n\
             server CPU = utime + stime from /proc/PID/stat ({} ms ticks) over every op of the run, warm-up included.\n\
             tulip/tokio: ops/s > 1.00 means tulip serves more; CPU < 1.00 means tulip spends less per op.\n",
            1000.0 / env.clock_ticks
        ));
        if !self.syscalls.is_empty() {
            out.push_str(&format!(
                "syscalls/op: strace -c -f of the server over a separate {STRACE_SECS} s run, split (unpinned for the per_core loads), startup and connection setup included:\n"
            ));
            for ((workload, bin), outcome) in &self.syscalls {
                match outcome {
                    Ok(s) => out.push_str(&format!("  {workload} {bin}: {s}\n")),
                    Err(e) => out.push_str(&format!("  {workload} {bin}: failed: {e}\n")),
                }
            }
        }
        out
    }

    fn memory_table(&self) -> String {
        let mut out = format!(
            "| memory | server | RSS before KiB | RSS with {IDLE_CONNS} idle KiB | bytes/idle conn | goal < {MEMORY_GOAL:.0} B |\n\
             | --- | --- | ---: | ---: | ---: | :---: |\n"
        );
        for (server, outcome) in &self.memory {
            let cells = match outcome {
                Ok(m) => {
                    let met = if m.bytes_per_conn() < MEMORY_GOAL {
                        "yes"
                    } else {
                        "no"
                    };
                    format!(
                        "{} | {} | {:.0} | {met}",
                        m.before_kib,
                        m.after_kib,
                        m.bytes_per_conn()
                    )
                }
                Err(_) => "failed | – | – | –".into(),
            };
            out.push_str(&format!(
                "| idle_{IDLE_CONNS} | {} | {cells} |\n",
                server.name
            ));
        }
        out.push_str(
            "\nbytes/idle conn = (VmRSS after - VmRSS before) / connections; each connection \
             was served one byte before the measurement.\n",
        );
        out
    }
}

//! The CPU time of a process, as Linux counts it in `/proc/PID/stat`.

/// The user and system CPU time process `pid` has used so far, in clock ticks (fields 14 and
/// 15 of `/proc/PID/stat`; 10 ms each on Linux); `None` where there is no such file.
pub fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from its end,
    // where field 3 starts.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

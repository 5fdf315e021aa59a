use std::time::UNIX_EPOCH;

use jiff::civil::DateTime;
use jiff::tz::Offset;

use super::cgroup::{container_of, parse_cgroups};
use super::containers::parse_docker;
use super::dates::Clock;
use super::dates::parse_offset;
use super::disk::parse_df;
use super::kernel_log::{dmesg_messages, journal_messages};
use super::memory::{parse_meminfo, parse_processes};
use super::oom_kill::parse_oom_kills;
use super::*;

/// A kernel 6.x memory cgroup kill (cgroup v1), as `dmesg` prints it once
/// the script kept the OOM-killer lines.
const DMESG_6X_MEMCG: &str = "\
[10054.859340] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[10054.865533] memory: usage 65536kB, limit 65536kB, failcnt 236
[10054.865547] memory+swap: usage 65536kB, limit 9007199254740988kB, failcnt 0
[10054.865551] Memory cgroup stats for /roadie-test:
[10054.865677] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/roadie-test,task_memcg=/roadie-test,task=python3,pid=32262,uid=0
[10054.865708] Memory cgroup out of memory: Killed process 32262 (python3) total-vm:278712kB, anon-rss:65152kB, file-rss:6612kB, shmem-rss:0kB, UID:0 pgtables:188kB oom_score_adj:0
";

/// Kernel 4.9 (Debian 9): no oom-kill: line; "Task in ... killed as a
/// result of limit of ...", then "Kill process" and "Killed process".
const DMESG_4_9_MEMCG: &str = "\
[ 8123.104512] gunicorn invoked oom-killer: gfp_mask=0x24000c0(GFP_KERNEL), nodemask=0, order=0, oom_score_adj=0
[ 8123.104601] Task in /docker/5f2c1d0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d killed as a result of limit of /docker/5f2c1d0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d
[ 8123.104605] memory: usage 524288kB, limit 524288kB, failcnt 1845
[ 8123.104607] memory+swap: usage 524288kB, limit 1048576kB, failcnt 0
[ 8123.104611] Memory cgroup stats for /docker/5f2c1d0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d: cache:124KB rss:524164KB rss_huge:0KB mapped_file:4KB dirty:0KB writeback:0KB swap:0KB inactive_anon:0KB active_anon:524140KB inactive_file:56KB active_file:44KB unevictable:0KB
[ 8123.104680] Memory cgroup out of memory: Kill process 2114 (gunicorn) score 1002 or sacrifice child
[ 8123.104700] Killed process 2114 (gunicorn) total-vm:731292kB, anon-rss:521844kB, file-rss:8964kB, shmem-rss:0kB
";

/// Kernel 4.19 (Debian 10): the oom-kill: line exists, the kill is still
/// announced in two lines.
const DMESG_4_19_MEMCG: &str = "\
[  612.330012] celery invoked oom-killer: gfp_mask=0x6000c0(GFP_KERNEL), nodemask=(null), order=0, oom_score_adj=0
[  612.330100] memory: usage 262144kB, limit 262144kB, failcnt 77
[  612.330110] Memory cgroup stats for /system.slice/celery.service: cache:0KB rss:261900KB
[  612.330200] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/system.slice/celery.service,task_memcg=/system.slice/celery.service,task=celery,pid=940,uid=33
[  612.330210] Memory cgroup out of memory: Kill process 940 (celery) score 998 or sacrifice child
[  612.330300] Killed process 940 (celery) total-vm:402000kB, anon-rss:258000kB, file-rss:3100kB, shmem-rss:0kB
[  612.331000] oom_reaper: reaped process 940 (celery), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
";

/// Kernel 5.10, the whole machine out of memory (no cgroup limit).
const DMESG_5_10_GLOBAL: &str = "\
[91234.000100] postgres invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0
[91234.000900] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice/user-1000.slice/session-3.scope,task=pytest,pid=51515,uid=1000
[91234.000950] Out of memory: Killed process 51515 (pytest) total-vm:9123456kB, anon-rss:7340032kB, file-rss:1024kB, shmem-rss:0kB, UID:1000 pgtables:14400kB oom_score_adj:0
";

/// Kernel 6.1, cgroup v2, a Docker container (systemd cgroup driver).
const DMESG_6_1_V2_DOCKER: &str = "\
[  302.118000] node invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[  302.118500] memory: usage 131072kB, limit 131072kB, failcnt 0
[  302.118510] swap: usage 0kB, limit 9007199254740988kB, failcnt 0
[  302.118520] Memory cgroup stats for /system.slice/docker-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.scope:
[  302.118900] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=docker-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.scope,mems_allowed=0,oom_memcg=/system.slice/docker-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.scope,task_memcg=/system.slice/docker-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.scope,task=node,pid=4242,uid=1000
[  302.118950] Memory cgroup out of memory: Killed process 4242 (node) total-vm:1195536kB, anon-rss:128900kB, file-rss:2000kB, shmem-rss:0kB, UID:1000 pgtables:1800kB oom_score_adj:0
";

/// `journalctl -k -o short-iso` (systemd 252 writes `+0000`; newer ones
/// `+00:00`).
const JOURNAL: &str = "\
2026-11-20T09:41:07+0000 staging kernel: python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
2026-11-20T09:41:07+0000 staging kernel: memory: usage 65536kB, limit 65536kB, failcnt 12
2026-11-20T09:41:07+0000 staging kernel: oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/ci-job,task_memcg=/ci-job,task=python3,pid=1234,uid=0
2026-11-20T09:41:07+0000 staging kernel: Memory cgroup out of memory: Killed process 1234 (python3) total-vm:270524kB, anon-rss:63968kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:576kB oom_score_adj:0
2026-11-20T11:02:13+01:00 staging kernel: Out of memory: Killed process 777 (java) total-vm:4000000kB, anon-rss:3000000kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:6000kB oom_score_adj:0
";

fn at(year: i16, month: i8, day: i8, hour: i8, minute: i8, second: i8) -> i64 {
    let local = DateTime::new(year, month, day, hour, minute, second, 0).unwrap();
    Offset::UTC.to_timestamp(local).unwrap().as_second()
}

fn clock() -> Clock {
    // 2026-11-20T10:00:00Z, booted 20,000 s before (at 04:26:40).
    Clock {
        now: Some(at(2026, 11, 20, 10, 0, 0)),
        uptime: Some(20_000),
        utc_offset: Some(0),
    }
}

#[test]
fn a_memcg_kill_on_kernel_6() {
    let kills = parse_oom_kills(dmesg_messages(DMESG_6X_MEMCG, &clock()));
    assert_eq!(kills.len(), 1);
    let k = &kills[0];
    assert_eq!((k.pid, k.process.as_str()), (32262, "python3"));
    assert_eq!(k.scope, Some(Scope::Cgroup));
    assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_MEMCG"));
    assert_eq!(k.oom_memcg.as_deref(), Some("/roadie-test"));
    assert_eq!(k.task_memcg.as_deref(), Some("/roadie-test"));
    assert_eq!(k.cgroup_limit_kb, Some(65536));
    assert_eq!(k.cgroup_usage_kb, Some(65536));
    assert_eq!(k.cgroup_failcnt, Some(236));
    assert_eq!(k.total_vm_kb, Some(278_712));
    assert_eq!(k.anon_rss_kb, Some(65152));
    assert_eq!(k.file_rss_kb, Some(6612));
    assert_eq!(k.shmem_rss_kb, Some(0));
    assert_eq!(k.pgtables_kb, Some(188));
    assert_eq!(k.rss_kb(), Some(65152 + 6612));
    assert_eq!(k.uid, Some(0));
    assert_eq!(k.oom_score_adj, Some(0));
    assert_eq!(k.triggered_by.as_deref(), Some("python3"));
    assert_eq!(k.container, None);
    // Logged 10,054 s after boot.
    assert_eq!(k.time.as_deref(), Some("2026-11-20T07:14:14Z"));
    assert!(
        k.message
            .starts_with("Memory cgroup out of memory: Killed process 32262")
    );
}

#[test]
fn a_container_kill_on_kernel_4_9() {
    let kills = parse_oom_kills(dmesg_messages(DMESG_4_9_MEMCG, &clock()));
    assert_eq!(kills.len(), 1);
    let k = &kills[0];
    assert_eq!((k.pid, k.process.as_str()), (2114, "gunicorn"));
    assert_eq!(k.scope, Some(Scope::Cgroup));
    assert_eq!(k.constraint, None);
    let group = "/docker/5f2c1d0e9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";
    assert_eq!(k.oom_memcg.as_deref(), Some(group));
    assert_eq!(k.task_memcg.as_deref(), Some(group));
    assert_eq!(k.container.as_deref(), Some("docker 5f2c1d0e9b8a"));
    assert_eq!(k.cgroup_limit_kb, Some(524_288));
    assert_eq!(k.anon_rss_kb, Some(521_844));
    assert_eq!(k.uid, None);
    assert_eq!(k.oom_score_adj, None);
}

#[test]
fn a_service_kill_on_kernel_4_19() {
    let kills = parse_oom_kills(dmesg_messages(DMESG_4_19_MEMCG, &clock()));
    assert_eq!(kills.len(), 1, "the oom_reaper line is not a kill");
    let k = &kills[0];
    assert_eq!((k.pid, k.process.as_str()), (940, "celery"));
    assert_eq!(k.scope, Some(Scope::Cgroup));
    assert_eq!(k.oom_memcg.as_deref(), Some("/system.slice/celery.service"));
    assert_eq!(k.uid, Some(33), "from the oom-kill: line");
    assert_eq!(k.cgroup_failcnt, Some(77));
}

#[test]
fn the_whole_machine_out_of_memory() {
    let kills = parse_oom_kills(dmesg_messages(DMESG_5_10_GLOBAL, &clock()));
    assert_eq!(kills.len(), 1);
    let k = &kills[0];
    assert_eq!((k.pid, k.process.as_str()), (51515, "pytest"));
    assert_eq!(k.scope, Some(Scope::System));
    assert_eq!(k.constraint.as_deref(), Some("CONSTRAINT_NONE"));
    assert_eq!(k.oom_memcg, None);
    assert_eq!(
        k.task_memcg.as_deref(),
        Some("/user.slice/user-1000.slice/session-3.scope")
    );
    assert_eq!(k.triggered_by.as_deref(), Some("postgres"));
    assert_eq!(k.cgroup_limit_kb, None);
    assert_eq!(k.uid, Some(1000));
}

#[test]
fn a_docker_container_under_cgroup_v2() {
    let kills = parse_oom_kills(dmesg_messages(DMESG_6_1_V2_DOCKER, &clock()));
    let k = &kills[0];
    assert_eq!((k.pid, k.process.as_str()), (4242, "node"));
    assert_eq!(k.container.as_deref(), Some("docker 0a1b2c3d4e5f"));
    assert_eq!(k.cgroup_limit_kb, Some(131_072));
}

#[test]
fn several_kills_keep_their_own_context() {
    let log = format!("{DMESG_5_10_GLOBAL}{DMESG_6X_MEMCG}");
    let kills = parse_oom_kills(dmesg_messages(&log, &clock()));
    assert_eq!(kills.len(), 2);
    assert_eq!(kills[0].cgroup_limit_kb, None);
    assert_eq!(kills[1].cgroup_limit_kb, Some(65536));
    assert_eq!(kills[1].oom_memcg.as_deref(), Some("/roadie-test"));
}

#[test]
fn dmesg_without_timestamps_and_with_caller_ids() {
    let plain = "Out of memory: Killed process 9 (a b) total-vm:10kB, anon-rss:5kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:-500\n";
    let kills = parse_oom_kills(dmesg_messages(plain, &clock()));
    assert_eq!(kills[0].process, "a b");
    assert_eq!(kills[0].time, None);
    assert_eq!(kills[0].oom_score_adj, Some(-500));
    let caller = "[   50.000001][ T1234] Out of memory: Killed process 9 (x) total-vm:10kB\n";
    let kills = parse_oom_kills(dmesg_messages(caller, &clock()));
    assert_eq!(kills[0].pid, 9);
    assert_eq!(kills[0].time.as_deref(), Some("2026-11-20T04:27:30Z"));
}

#[test]
fn journal_lines_carry_their_zone() {
    let kills = parse_oom_kills(journal_messages(JOURNAL));
    assert_eq!(kills.len(), 2);
    assert_eq!(kills[0].time.as_deref(), Some("2026-11-20T09:41:07Z"));
    assert_eq!(kills[0].oom_memcg.as_deref(), Some("/ci-job"));
    assert_eq!(kills[1].time.as_deref(), Some("2026-11-20T10:02:13Z"));
    assert_eq!(kills[1].scope, Some(Scope::System));
    assert_eq!(kills[1].uid, Some(1001));
}

#[test]
fn since_is_a_duration_or_a_time() {
    assert_eq!(
        Since::parse("1h").unwrap(),
        Since::Ago(Duration::from_secs(3600))
    );
    assert_eq!(
        Since::parse("30m").unwrap(),
        Since::Ago(Duration::from_secs(1800))
    );
    assert_eq!(Since::parse("1h").unwrap().journal_arg(), "-3600s");
    let naive = Since::parse("2026-11-20 10:00").unwrap();
    assert_eq!(naive.journal_arg(), "2026-11-20 10:00:00");
    // Without a zone: the server's (here UTC+1).
    let server = Clock {
        utc_offset: Some(3600),
        ..clock()
    };
    assert_eq!(naive.cutoff(&server, None), Some(at(2026, 11, 20, 9, 0, 0)));
    let zoned = Since::parse("2026-11-20T10:00:00+01:00").unwrap();
    assert_eq!(
        zoned.cutoff(&clock(), None),
        Some(at(2026, 11, 20, 9, 0, 0))
    );
    assert_eq!(
        zoned.journal_arg(),
        format!("@{}", at(2026, 11, 20, 9, 0, 0))
    );
    assert_eq!(
        Since::parse("2026-11-20T10:00:00Z")
            .unwrap()
            .cutoff(&server, None),
        Some(at(2026, 11, 20, 10, 0, 0))
    );
    assert_eq!(
        Since::parse("10m").unwrap().cutoff(&clock(), None),
        Some(at(2026, 11, 20, 9, 50, 0))
    );
    for words in ["10 min ago", "yesterday", "-2h", "today", "1h 30min ago"] {
        let since = Since::parse(words).unwrap();
        assert_eq!(since, Since::Words(words.to_owned()));
        assert_eq!(since.journal_arg(), words);
        assert_eq!(since.cutoff(&clock(), Some(42)), Some(42));
    }
    assert!(Since::parse("yesterday-ish").is_err());
    assert!(Since::parse("10 min ago; id").is_err());
    assert!(Since::parse("2026-13-01").is_err());
    assert_eq!(parse_offset("-0530"), Some(-19_800));
    assert_eq!(at(1970, 1, 1, 0, 0, 0), 0);
    assert_eq!(at(2000, 3, 1, 0, 0, 0), 11_017 * 86_400);
}

#[test]
fn impossible_times_are_refused_in_roadies_words() {
    for (text, says) in [
        (
            "2026-02-31",
            "'2026-02-31' is not a real time: February 2026 has no day 31 (it has 28)",
        ),
        (
            "2100-02-29 10:00",
            "'2100-02-29 10:00' is not a real time: February 2100 has no day 29 (it has 28)",
        ),
        (
            "2026-13-01",
            "'2026-13-01' is not a real time: there is no month 13",
        ),
        (
            "2026-11-00",
            "'2026-11-00' is not a real time: November 2026 has no day 00 (it has 30)",
        ),
        (
            "2026-11-20 24:61",
            "'2026-11-20 24:61' is not a real time: there is no hour 24 (0 to 23)",
        ),
        (
            "2026-11-20 10:61",
            "'2026-11-20 10:61' is not a real time: there is no minute 61 (0 to 59)",
        ),
        (
            "2026-11-20T10:00:61Z",
            "'2026-11-20T10:00:61Z' is not a real time: there is no second 61 (0 to 59)",
        ),
        (
            "2026-11-20T10:00:00+01:75",
            "'2026-11-20T10:00:00+01:75' is not a real time: there is no UTC offset +01:75",
        ),
    ] {
        assert_eq!(Since::parse(text).unwrap_err(), says, "{text}");
    }
}

#[test]
fn valid_times_convert_as_before() {
    // Expected values from Python's datetime, not from jiff.
    let server = Clock {
        utc_offset: Some(3600),
        ..clock()
    };
    for (text, epoch) in [
        ("2026-11-20T10:00:00Z", 1_795_168_800),
        ("2026-11-20 10:00:00z", 1_795_168_800),
        ("2026-11-20T10:00:00.5+0100", 1_795_165_200),
        ("2026-11-20T10:00:00,25 -05:30", 1_795_188_600),
        ("2000-02-29T23:59-01:00", 951_872_340),
        ("1970-01-01T00:00:00Z", 0),
        // A leap second reads as the next minute's first, as journalctl
        // and `date -d` read it.
        ("2016-12-31T23:59:60Z", 1_483_228_800),
        // Without a zone: the server's, UTC+1.
        ("2024-02-29 12:00", 1_709_204_400),
        ("2026-11-20", 1_795_132_800 - 3600),
    ] {
        let since = Since::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(since.cutoff(&server, None), Some(epoch), "{text}");
    }
    let local = Since::parse("2024-02-29 07:05").unwrap();
    assert_eq!(local.journal_arg(), "2024-02-29 07:05:00");
    assert_eq!(
        local.cutoff(&Clock::default(), None),
        None,
        "a local time needs the server's offset"
    );
}

#[test]
fn a_journal_line_with_an_impossible_time_keeps_its_kill_without_a_time() {
    let kill = "staging kernel: Out of memory: Killed process 777 (java) total-vm:4000000kB";
    let journal = format!(
        "2026-02-31T09:41:07+0000 {kill}\n2026-13-01T00:00:00+0000 {kill}\n2026-11-20T09:41:07+0000 {kill}\n"
    );
    let times: Vec<Option<i64>> = journal_messages(&journal).iter().map(|m| m.0).collect();
    assert_eq!(times, [None, None, Some(at(2026, 11, 20, 9, 41, 7))]);
    let (out, err) = script_output(&[
        ("system", SYSTEM, "", 0),
        ("journal", &format!("{journal}==roadie:T0K:rc 0=="), "", 0),
    ]);
    let report = Report::from_sections(&Sections::split(&out, &err, "T0K"), &request(), UNIX_EPOCH);
    let log = report.oom_kills.found().unwrap();
    assert_eq!(log.source, "journalctl");
    let times: Vec<Option<&str>> = log.events.iter().map(|k| k.time.as_deref()).collect();
    assert_eq!(times, [None, None, Some("2026-11-20T09:41:07Z")]);
    assert_eq!(
        log.notes,
        [
            "journal: '2026-02-31T09:41:07+0000' is not a real time: February 2026 has no day 31 \
          (it has 28); the events logged so are shown without a time, whatever --since says"
        ]
    );
}

#[test]
fn meminfo_with_and_without_swap() {
    let text = "MemTotal:       24684096 kB\nMemFree:        18210512 kB\nMemAvailable:   23419860 kB\nBuffers:           14884 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n";
    let m = parse_meminfo(text).unwrap();
    assert_eq!(m.total_kb, 24_684_096);
    assert_eq!(m.available_kb, Some(23_419_860));
    assert!(!m.swap);
    let old =
        "MemTotal: 2048000 kB\nMemFree: 100000 kB\nSwapTotal: 1048572 kB\nSwapFree: 524288 kB\n";
    let m = parse_meminfo(old).unwrap();
    assert_eq!(
        m.available_kb, None,
        "kernels before 3.14 have no MemAvailable"
    );
    assert!(m.swap);
    assert_eq!(m.swap_free_kb, 524_288);
    assert_eq!(parse_meminfo("garbage"), None);
}

#[test]
fn top_processes_from_ps_or_proc() {
    let ps = "      1  12000 systemd\n   8395  42764 gunicorn\n    812 900100 tmux: server\n    2   0 kthreadd\n";
    let top = parse_processes(ps, 2);
    assert_eq!(top.source, "ps");
    assert_eq!(top.processes.len(), 2);
    assert_eq!(top.processes[0].name, "tmux: server");
    assert_eq!(top.processes[0].rss_kb, 900_100);
    assert_eq!(top.processes[1].pid, 8395);
    let proc = "from /proc\n1 12000 systemd\n77 50 python3\n";
    let top = parse_processes(proc, 10);
    assert_eq!(top.source, "/proc");
    assert_eq!(top.processes[0].pid, 1);
}

const CGROUPS_V1: &str = "\
mode v1
process 4321 python3
in /ci/job-17
group /ci/job-17
memory.limit_in_bytes 9223372036854771712
memory.usage_in_bytes 40960000
memory.max_usage_in_bytes 67108864
memory.failcnt 12
memory.oom_control.oom_kill_disable 0
memory.oom_control.under_oom 0
memory.oom_control.oom_kill 1
group /ci
memory.limit_in_bytes 67108864
memory.usage_in_bytes 40960000
memory.max_usage_in_bytes 67108864
memory.failcnt 12
group /
memory.limit_in_bytes 9223372036854771712
memory.usage_in_bytes 5000000000
limited
group /ci
memory.limit_in_bytes 67108864
memory.usage_in_bytes 40960000
";

#[test]
fn cgroup_v1_limits_of_a_process() {
    let c = parse_cgroups(CGROUPS_V1).unwrap();
    assert_eq!(c.version, "v1");
    let processes = c.processes.unwrap();
    let p = &processes[0];
    assert_eq!(
        (p.pid, p.name.as_str(), p.cgroup.as_str()),
        (4321, "python3", "/ci/job-17")
    );
    assert_eq!(p.groups.len(), 3);
    assert_eq!(p.groups[0].limit_bytes, None);
    assert_eq!(p.groups[0].oom_kills, Some(1));
    assert_eq!(p.groups[0].limit_hits, Some(12));
    assert_eq!(p.groups[0].peak_bytes, Some(67_108_864));
    assert_eq!(p.effective_limit(), Some((67_108_864, "/ci")));
    assert_eq!(c.limited.len(), 1);
    assert_eq!(c.limited[0].path, "/ci");
}

#[test]
fn cgroup_v2_limits_and_events() {
    let text = "\
mode v2
limited
group /system.slice/docker-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9.scope
memory.max 134217728
memory.high max
memory.current 1200000
memory.peak 134217728
memory.swap.max max
memory.swap.current 0
memory.events.low 0
memory.events.high 0
memory.events.max 310
memory.events.oom 2
memory.events.oom_kill 2
memory.events.oom_group_kill 0
";
    let c = parse_cgroups(text).unwrap();
    assert_eq!(c.processes, None);
    let g = &c.limited[0];
    assert_eq!(g.limit_bytes, Some(134_217_728));
    assert_eq!(g.high_bytes, None);
    assert_eq!(g.swap_limit_bytes, None);
    assert_eq!(g.limit_hits, Some(310));
    assert_eq!(g.oom_kills, Some(2));
    assert_eq!(g.container.as_deref(), Some("docker 0a1b2c3d4e5f"));
    let gone = parse_cgroups("mode v2\ngone 999\nlimited\n").unwrap();
    assert_eq!(gone.gone, Some(999));
    assert!(parse_cgroups("").is_err());
}

#[test]
fn containers_killed_by_oom() {
    let text = "\
9f1e2d3c4b5a69788796a5b4c3d2e1f09f1e2d3c4b5a69788796a5b4c3d2e1f0|/worker|true|137|2026-11-20T09:41:08.123456789Z|acme/worker:1.4|268435456
1111111111112222222222223333333333334444444444445555555555556666|/migrate|false|0|2026-11-20T08:00:00Z|acme/web:1.4|0
";
    let c = parse_docker(text);
    assert_eq!(c.exited, 2);
    assert_eq!(c.oom_killed.len(), 1);
    let k = &c.oom_killed[0];
    assert_eq!(k.id, "9f1e2d3c4b5a");
    assert_eq!(k.name, "worker");
    assert_eq!(k.exit_code, Some(137));
    assert_eq!(k.memory_limit_bytes, Some(268_435_456));
    assert_eq!(parse_docker("").exited, 0);
}

#[test]
fn df_lines() {
    let text = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         264212084 26618932  68666956      28% /\n";
    let d = parse_df(text).unwrap();
    assert_eq!(d.filesystem, "/dev/vda");
    assert_eq!(d.size_kb, 264_212_084);
    assert_eq!(d.available_kb, 68_666_956);
    assert_eq!(d.used_percent, Some(28));
    assert_eq!(d.mounted_on, "/");
    let spaced = "Filesystem 1024-blocks Used Available Capacity Mounted on\n//nas/share name 1000 900 100 90% /mnt/my share\n";
    let d = parse_df(spaced).unwrap();
    assert_eq!(d.filesystem, "//nas/share name");
    assert_eq!(d.mounted_on, "/mnt/my share");
    assert_eq!(parse_df("df: /nope: No such file or directory\n"), None);
}

#[test]
fn containers_from_cgroup_paths() {
    let id = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    assert_eq!(
        container_of(&format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{id}.scope")).as_deref(),
        Some("containerd 0a1b2c3d4e5f")
    );
    assert_eq!(
        container_of(&format!("/machine.slice/libpod-{id}.scope")).as_deref(),
        Some("podman 0a1b2c3d4e5f")
    );
    assert_eq!(
        container_of(&format!("/kubepods/burstable/pod1/{id}")).as_deref(),
        Some("container 0a1b2c3d4e5f")
    );
    assert_eq!(container_of("/system.slice/nginx.service"), None);
}

/// What the script prints on a host, stdout and stderr, for `sections`.
fn script_output(sections: &[(&str, &str, &str, i32)]) -> (String, String) {
    use std::fmt::Write as _;
    let (mut out, mut err) = (String::new(), String::new());
    for (name, stdout, stderr, rc) in sections {
        let _ = write!(
            out,
            "\n==roadie:T0K:begin {name}==\n{stdout}\n==roadie:T0K:end {name} rc={rc}==\n"
        );
        let _ = write!(
            err,
            "\n==roadie:T0K:begin {name}==\n{stderr}\n==roadie:T0K:end {name}==\n"
        );
    }
    (out, err)
}

const SYSTEM: &str = "kernel 6.1.0-18-amd64\nnow 1795168800\nutc_offset +0000\nuptime 10000.55\ndmesg_restrict 1\nuser elspeth\n";

#[test]
fn sections_split_with_their_status_and_reasons() {
    let (out, err) = script_output(&[
        ("system", SYSTEM, "", 0),
        (
            "journal",
            "==roadie:T0K:rc 127==\n",
            "journalctl: not installed (not found on PATH)\n",
            0,
        ),
        ("dmesg", "[1.0] x\n==roadie:T0K:rc 0==", "", 0),
        ("docker", "", "", 2),
    ]);
    // A forged marker with another token is only text.
    let out = out.replace("[1.0] x", "[1.0] x\n==roadie:fake:end dmesg rc=0==");
    let s = Sections::split(&out, &err, "T0K");
    assert_eq!(s.get("system").unwrap().stdout, SYSTEM);
    let journal = s.get("journal").unwrap();
    assert_eq!(
        journal.rc,
        Some(127),
        "the command's own status wins over grep's"
    );
    assert_eq!(
        journal.reason(),
        "journalctl: not installed (not found on PATH)"
    );
    let dmesg = s.get("dmesg").unwrap();
    assert_eq!(dmesg.rc, Some(0));
    assert_eq!(dmesg.stdout, "[1.0] x\n==roadie:fake:end dmesg rc=0==\n");
    assert_eq!(
        s.get("docker").unwrap().reason(),
        "failed with exit status 2"
    );
    // A script cut short.
    let s = Sections::split("\n==roadie:T0K:begin system==\nkernel 6\n", "", "T0K");
    assert_eq!(s.get("system").unwrap().rc, None);
    assert_eq!(
        s.output("meminfo").unwrap_err(),
        "the script stopped before this item"
    );
}

fn request() -> Request {
    Request {
        since: Some(Since::Ago(Duration::from_secs(3600))),
        process: None,
        site: Some(Ok("~/sites/staging.example.org".into())),
    }
}

const DF: &str = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda1         20509264 19000000   1509264      93% /\n";

#[test]
fn a_report_from_dmesg_when_the_journal_is_blind() {
    // now = 2026-11-20T10:00:00Z, booted 10,000 s before; --since 1h.
    let old_kill = DMESG_6X_MEMCG.replace("[10054.", "[ 5000.");
    let recent = DMESG_4_19_MEMCG.replace("[  612.", "[ 9000.");
    let (out, err) = script_output(&[
        ("system", SYSTEM, "", 0),
        (
            "journal",
            "==roadie:T0K:rc 0==",
            "No journal files were found.",
            0,
        ),
        (
            "dmesg",
            &format!("{old_kill}{recent}==roadie:T0K:rc 0=="),
            "",
            0,
        ),
        (
            "meminfo",
            "MemTotal: 2048000 kB\nMemAvailable: 30000 kB\nMemFree: 20000 kB\nSwapTotal: 0 kB\n",
            "",
            0,
        ),
        ("processes", "ps: not usable\n", "", 0),
        ("cgroups", CGROUPS_V1, "", 0),
        (
            "docker",
            "",
            "docker: not installed (not found on PATH)",
            127,
        ),
        (
            "disk-site",
            "",
            "df: /home/elspeth/sites/staging.example.org: No such file or directory",
            1,
        ),
        ("disk-tmp", DF, "", 0),
        ("disk-logs", DF, "", 0),
    ]);
    let sections = Sections::split(&out, &err, "T0K");
    let report = Report::from_sections(&sections, &request(), UNIX_EPOCH);
    assert_eq!(report.kernel.as_deref(), Some("6.1.0-18-amd64"));
    assert_eq!(report.since.as_deref(), Some("2026-11-20T09:00:00Z"));
    let log = report.oom_kills.found().unwrap();
    assert_eq!(log.source, "dmesg");
    assert_eq!(log.events.len(), 1, "the kill before --since is left out");
    assert_eq!(log.events[0].process, "celery");
    assert!(
        log.notes[0].contains("No journal files were found"),
        "{:?}",
        log.notes
    );
    assert_eq!(report.memory.found().unwrap().available_kb, Some(30000));
    assert_eq!(
        report.containers,
        Item::Unavailable {
            unavailable: "docker: not installed (not found on PATH)".into()
        }
    );
    assert_eq!(report.disks.len(), 3);
    assert_eq!(report.disks[0].path, "~/sites/staging.example.org");
    assert!(report.disks[0].usage.found().is_none());
    assert_eq!(
        report.disks[1].usage.found().unwrap().used_percent,
        Some(93)
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["disks"][0]["what"], "site");
    assert!(
        json["disks"][0]["unavailable"]
            .as_str()
            .unwrap()
            .contains("No such file")
    );
    assert_eq!(json["disks"][1]["mounted_on"], "/");
    assert_eq!(json["oom_kills"]["events"][0]["pid"], 940);
    assert_eq!(json["oom_kills"]["events"][0]["scope"], "cgroup");
    assert_eq!(
        json["containers"]["unavailable"],
        "docker: not installed (not found on PATH)"
    );
}

#[test]
fn a_report_from_the_journal_when_it_can_be_read() {
    let (out, err) = script_output(&[
        ("system", SYSTEM, "", 0),
        ("journal", &format!("{JOURNAL}==roadie:T0K:rc 0=="), "", 0),
        (
            "dmesg",
            "==roadie:T0K:rc 1==",
            "dmesg: read kernel buffer failed: Operation not permitted",
            0,
        ),
    ]);
    let request = Request {
        since: None,
        ..request()
    };
    let report = Report::from_sections(&Sections::split(&out, &err, "T0K"), &request, UNIX_EPOCH);
    let log = report.oom_kills.found().unwrap();
    assert_eq!(log.source, "journalctl");
    assert_eq!(log.events.len(), 2);
    assert!(log.notes.is_empty());
    assert_eq!(report.since, None);
    // Items the script never reached.
    assert_eq!(
        report.memory,
        Item::Unavailable {
            unavailable: "the script stopped before this item".into()
        }
    );
}

#[test]
fn an_unreadable_kernel_log_says_why() {
    let (out, err) = script_output(&[
        ("system", SYSTEM, "", 0),
        (
            "journal",
            "==roadie:T0K:rc 0==",
            "Hint: You are currently not seeing messages from other users and the system.\n      Users in groups 'adm', 'systemd-journal' can see all messages.\n      Pass -q to turn off this notice.",
            0,
        ),
        (
            "dmesg",
            "==roadie:T0K:rc 1==",
            "dmesg: read kernel buffer failed: Operation not permitted",
            0,
        ),
    ]);
    let report = Report::from_sections(&Sections::split(&out, &err, "T0K"), &request(), UNIX_EPOCH);
    let Item::Unavailable { unavailable: why } = &report.oom_kills else {
        panic!("{:?}", report.oom_kills)
    };
    assert!(
        why.contains("journalctl: Hint: You are currently not seeing messages from other users"),
        "{why}"
    );
    assert!(
        why.contains("dmesg: read kernel buffer failed: Operation not permitted"),
        "{why}"
    );
    assert!(!why.contains("dmesg: dmesg:"), "{why}");
    assert!(why.contains("kernel.dmesg_restrict is 1"), "{why}");
}

#[test]
fn the_command_quotes_what_it_is_given() {
    let request = Request {
        since: Some(Since::parse("2026-11-20 10:00").unwrap()),
        process: Some(Process::Name("it's (gunicorn|celery)".into())),
        site: Some(Ok("~/sites/my site".into())),
    };
    let line = request.command("abc").render();
    assert!(line.starts_with("exec sh -c '"), "{line}");
    assert!(
        line.ends_with(" roadie-diagnose abc '2026-11-20 10:00:00' '' 'it'\\''s (gunicorn|celery)' \"$HOME\"/'sites/my site'"),
        "{line}"
    );
    let request = Request {
        process: Some(Process::Pid(42)),
        site: Some(Err("no site".into())),
        since: None,
    };
    assert!(
        request
            .command("abc")
            .render()
            .ends_with(" abc '' 42 '' ''")
    );
}

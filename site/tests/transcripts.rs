//! The strace excerpts in the READMEs must be exactly the recorded ones in site/transcripts/,
//! wrapped as the generator wraps them: an excerpt edited by hand, or a transcript recorded
//! again without the README following, fails here.

use std::fs;

use site::Lang;
use site::transcripts::{self, Recording};

#[test]
fn readme_excerpts_are_the_recorded_transcripts() {
    let workspace = site::workspace();
    let stages = site::STAGES.map(|stage| stage.name);
    for stage in stages.into_iter().filter(|stage| transcripts::recorded(stage)) {
        for lang in Lang::ALL {
            let transcript = transcripts::file(stage, lang);
            let excerpt = fs::read_to_string(workspace.join(&transcript)).unwrap_or_else(|error| {
                panic!("{transcript}: {error}: run `{}`", transcripts::COMMAND)
            });
            let file = format!("{stage}/{}", lang.readme());
            let readme = fs::read_to_string(workspace.join(&file))
                .unwrap_or_else(|error| panic!("{file}: {error}"));
            let block = transcripts::MARKERS
                .block(&readme)
                .unwrap_or_else(|error| panic!("{file}: {error}"));
            assert!(
                block == transcripts::readme_block(stage, &excerpt, lang),
                "{file}'s strace excerpt is not {transcript}: run `{}` \
                 (it rewrites both; edit neither by hand)",
                transcripts::COMMAND
            );
        }
    }
}

/// A small stage03 trace, as `strace -f -o FILE` writes it: a fork, lines split between the
/// two processes, machine paths, ports, pointers and pids, and the final SIGTERM.
const FORK_TRACE: &str = r#"7100 execve("/home/me/deep/checkout/target/debug/stage03_fork", ["stage03_fork"], 0x7ffd0be542d0 /* 35 vars */) = 0
7100 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f65cc04b000
7100 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3
7100 bind(3, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
7100 write(1, "listening on http://127.0.0.1:41234\n", 36) = 36
7100 accept4(3, {sa_family=AF_INET, sin_port=htons(50226), sin_addr=inet_addr("127.0.0.1")}, [128 => 16], SOCK_CLOEXEC) = 4
7100 getpid()                          = 7100
7100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f6f04766a90) = 7101
7101 set_robust_list(0x7f6f04766aa0, 24 <unfinished ...>
7100 close(4 <unfinished ...>
7101 <... set_robust_list resumed>)    = 0
7101 close(3 <unfinished ...>
7100 <... close resumed>)              = 0
7100 accept4(3,  <unfinished ...>
7101 <... close resumed>)              = 0
7101 getppid()                         = 7100
7101 recvfrom(4, "GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 4096, 0, NULL, NULL) = 44
7101 statx(AT_FDCWD, "/home/me/deep/checkout/www/style.css", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, {stx_mask=STATX_ALL, stx_size=4465, ...}) = 0
7101 sendto(4, "HTTP/1.1 200 OK\r\nServer: http-stages\r\n", 100, MSG_NOSIGNAL, NULL, 0) = 100
7101 fcntl(4, F_GETFD)                 = 0x1 (flags FD_CLOEXEC)
7101 close(4)                          = 0
7101 exit_group(0)                     = ?
7101 +++ exited with 0 +++
7100 <... accept4 resumed>0x7ffed6edfee8, [128], SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
7100 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=7101, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---
7100 wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], WNOHANG, NULL) = 7101
7100 wait4(-1, 0x7ffed6edf0e8, WNOHANG, NULL) = -1 ECHILD (No child processes)
7100 rt_sigreturn({mask=[]})           = 288
7100 accept4(3, 0x7ffed6edfee8, [128], SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
7100 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=9, si_uid=0} ---
7100 +++ killed by SIGTERM +++
"#;

#[test]
fn the_normaliser_leaves_nothing_of_the_machine_or_the_run() {
    let recording = Recording {
        raw: FORK_TRACE.into(),
        root: "/home/me/deep/checkout/www".into(),
        port: 41234,
    };
    let excerpt =
        transcripts::excerpt("stage03_fork", &recording, Lang::English).expect("a usable trace");
    let lines: Vec<&str> = excerpt.lines().collect();
    // Paths, ports, pointers and pids are gone.
    for gone in ["/home/me", "41234", "50226", "0x7f", "7100", "7101"] {
        assert!(!excerpt.contains(gone), "{gone:?} left in:\n{excerpt}");
    }
    let has = |start: &str, rest: &str| {
        lines.iter().any(|line| line.starts_with(start) && line.contains(rest))
    };
    assert!(
        has("[pid main]  accept4(3, {sa_family=AF_INET, ...}, [128 => 16]", "= 4"),
        "{excerpt}"
    );
    assert!(has("[pid main]  clone(child_stack=NULL, flags=", "= child"), "{excerpt}");
    assert!(has(
        r#"[pid child] statx(AT_FDCWD, "www/style.css", AT_SYMLINK_NOFOLLOW, ...)"#,
        "= 0"
    ));
    assert!(has("[pid child] getppid()", "= main"), "{excerpt}");
    assert!(has("[pid main]  --- SIGCHLD {si_code=CLD_EXITED, si_pid=child,", "---"), "{excerpt}");
    assert!(has("[pid main]  wait4(-1, 0x..., WNOHANG, NULL)", "ECHILD"), "{excerpt}");
    // Noise is out: memory, the debug build's fcntl checks, the signal handler's return.
    for noise in ["mmap(", "set_robust_list(", "fcntl(", "rt_sigreturn(", "SIGTERM"] {
        assert!(!excerpt.contains(noise), "{noise:?} left in:\n{excerpt}");
    }
    // In reading order: the parent until it waits, the whole child, then the parent again;
    // the accept4 the SIGCHLD interrupted shows waiting, then resumed.
    let position = |part: &str| {
        lines.iter().position(|line| line.contains(part)).unwrap_or_else(|| panic!("{part:?}"))
    };
    assert!(position("[pid main]  close(4)") < position("[pid child] close(3)"), "{excerpt}");
    assert!(position("accept4(3, <unfinished ...>") < position("[pid child] close(3)"));
    assert!(position("+++ exited with 0 +++") < position("<... accept4 resumed>"), "{excerpt}");
    assert!(
        lines.last().is_some_and(|line| line.starts_with("[pid main]  accept4(3, <unfinished"))
    );
    assert!(lines.iter().all(|line| line.len() <= 110), "{excerpt}");
}

#[test]
fn an_excerpt_without_the_request_is_an_error() {
    let raw = FORK_TRACE.lines().filter(|line| !line.contains("recvfrom")).collect::<Vec<_>>();
    let recording =
        Recording { raw: raw.join("\n"), root: "/home/me/deep/checkout/www".into(), port: 41234 };
    let error = transcripts::excerpt("stage03_fork", &recording, Lang::English)
        .expect_err("no request read");
    assert!(error.contains("no read of the request"), "{error}");
}

#[test]
fn both_languages_show_the_same_lines_with_their_own_notes() {
    let recording = Recording {
        raw: FORK_TRACE.into(),
        root: "/home/me/deep/checkout/www".into(),
        port: 41234,
    };
    let [english, chinese] = Lang::ALL.map(|lang| {
        transcripts::excerpt("stage03_fork", &recording, lang).expect("a usable trace")
    });
    assert!(english.contains("parent: closes its copy"), "{english}");
    assert!(chinese.contains("父进程关掉自己那份"), "{chinese}");
    assert!(!chinese.contains("parent: closes its copy"), "{chinese}");
    assert_eq!(transcripts::without_notes(&english), transcripts::without_notes(&chinese));
    // A note's room is made for its wider language: the Chinese lines stay in view too.
    let columns =
        |line: &str| line.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
    assert!(chinese.lines().all(|line| columns(line) <= 110), "{chinese}");
}

//! What the bench shares with the grader's short load run (`grade`): running wrk and reading
//! its report, and placing a process on one core.

pub mod cores;
pub mod wrk;

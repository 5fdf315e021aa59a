//! Containers Docker saw end, and which of them the OOM killer ended.

use serde::Serialize;

/// Containers Docker saw end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Containers {
    pub runtime: &'static str,
    /// How many exited (or dead) containers were looked at.
    pub exited: usize,
    /// Those the OOM killer ended (`State.OOMKilled`).
    pub oom_killed: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub exit_code: Option<i32>,
    pub finished_at: String,
    /// `HostConfig.Memory`; `None`: no limit.
    pub memory_limit_bytes: Option<u64>,
}

/// `docker inspect --format 'ID|NAME|OOMKILLED|EXIT|FINISHED|IMAGE|MEMORY'` lines.
pub(crate) fn parse_docker(text: &str) -> Containers {
    let mut containers = Containers {
        runtime: "docker",
        exited: 0,
        oom_killed: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('|').collect();
        let [id, name, oom, exit, finished, image, memory] = fields[..] else {
            continue;
        };
        containers.exited += 1;
        if oom != "true" {
            continue;
        }
        containers.oom_killed.push(Container {
            id: id.chars().take(12).collect(),
            name: name.trim_start_matches('/').to_owned(),
            image: image.to_owned(),
            exit_code: exit.parse().ok(),
            finished_at: finished.to_owned(),
            memory_limit_bytes: memory.parse().ok().filter(|m| *m > 0),
        });
    }
    containers
}

//! Space on the filesystems holding the site, /tmp and /var/log.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::Request;
use super::report::Item;
use super::sections::Sections;

/// Space on the filesystem holding a directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Disk {
    /// `site`, `tmp` or `logs`.
    pub what: &'static str,
    pub path: String,
    #[serde(flatten)]
    pub usage: Item<DiskUsage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DiskUsage {
    pub filesystem: String,
    pub mounted_on: String,
    pub size_kb: u64,
    pub used_kb: u64,
    pub available_kb: u64,
    pub used_percent: Option<u8>,
}

static DF_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(.*)$").expect("valid regex")
});

/// `df -P -k DIR`.
pub(crate) fn parse_df(text: &str) -> Option<DiskUsage> {
    text.lines().skip(1).find_map(|line| {
        let c = DF_LINE.captures(line)?;
        Some(DiskUsage {
            filesystem: c[1].to_owned(),
            size_kb: c[2].parse().ok()?,
            used_kb: c[3].parse().ok()?,
            available_kb: c[4].parse().ok()?,
            used_percent: c[5].trim_end_matches('%').parse().ok(),
            mounted_on: c[6].to_owned(),
        })
    })
}

pub(super) fn disks(sections: &Sections, request: &Request) -> Vec<Disk> {
    let mut disks = Vec::new();
    match &request.site {
        Some(Ok(site)) => disks.push(Disk {
            what: "site",
            path: site.clone(),
            usage: df_item(sections, "disk-site"),
        }),
        Some(Err(why)) => disks.push(Disk {
            what: "site",
            path: String::new(),
            usage: Item::Unavailable {
                unavailable: why.clone(),
            },
        }),
        None => {}
    }
    for (what, path, section) in [
        ("tmp", "/tmp", "disk-tmp"),
        ("logs", "/var/log", "disk-logs"),
    ] {
        disks.push(Disk {
            what,
            path: path.to_owned(),
            usage: df_item(sections, section),
        });
    }
    disks
}

fn df_item(sections: &Sections, name: &str) -> Item<DiskUsage> {
    Item::from(sections.output(name).and_then(|text| {
        parse_df(text).ok_or_else(|| format!("df said something unexpected: {}", text.trim()))
    }))
}

//! The roadie wheel, built with maturin once per test run (the `wheel-test`
//! cargo profile: no LTO, no optimisation, quick to build) and installed
//! into a fresh virtualenv with pytest and pytest-xdist.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::django::{locked, make_venv, venv_of};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The virtualenv with the wheel of this test run installed. A run is one
/// `cargo nextest run` (its `NEXTEST_RUN_ID`), else one test process: the
/// first test of a run builds the wheel and makes the virtualenv, under a
/// lock; the others wait for it and use it.
pub fn wheel_venv() -> PathBuf {
    let run = std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| std::process::id().to_string());
    let dir = repo().join("target/python-venv");
    locked("python-venv", || {
        if std::fs::read_to_string(dir.join(".ready")).ok().as_deref() == Some(run.as_str()) {
            return;
        }
        let wheel = build_wheel();
        let requirements = repo().join("python/tests/requirements.txt");
        make_venv(
            &dir,
            &[
                wheel.to_str().unwrap(),
                "-r",
                requirements.to_str().unwrap(),
            ],
        );
        std::fs::write(dir.join(".ready"), &run).unwrap();
    });
    dir
}

/// `maturin build` of python/ into target/python-wheels; the wheel.
fn build_wheel() -> PathBuf {
    let tools = venv_of("python-tools", "python/tests/requirements-build.txt");
    let out = repo().join("target/python-wheels");
    let _ = std::fs::remove_dir_all(&out);
    let built = Command::new(tools.join("bin/maturin"))
        .args(["build", "--locked", "--profile", "wheel-test", "--out"])
        .arg(&out)
        .current_dir(repo().join("python"))
        .output()
        .expect("run maturin from the tools virtualenv");
    assert!(
        built.status.success(),
        "maturin build failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wheels: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    let [wheel] = wheels.as_slice() else {
        panic!("maturin built {wheels:?}, not one wheel");
    };
    wheel.clone()
}

use clap::Parser;

fn main() {
    roadie::timings::mark_process_start();
    let cli = roadie::cli::Cli::parse();
    std::process::exit(roadie::cli::main(&cli));
}

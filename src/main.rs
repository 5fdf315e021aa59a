use clap::Parser;

fn main() {
    let cli = roadie::cli::Cli::parse();
    std::process::exit(roadie::cli::main(&cli));
}

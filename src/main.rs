fn main() {
    std::process::exit(sweep_pipeline::cli::main());
}

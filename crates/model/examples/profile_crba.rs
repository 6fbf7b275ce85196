//! Runs CRBA in a loop on a URDF, for profilers (`valgrind --tool=callgrind`, `perf`).
//! Usage: profile_crba URDF [floating] [iterations]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let options = embody_model::ModelOptions {
        floating_base: args.get(2).is_some_and(|a| a == "floating"),
        mimic: embody_model::MimicMode::Independent,
    };
    let Some(path) = args.get(1) else {
        eprintln!("usage: profile_crba URDF [floating] [iterations]");
        std::process::exit(2);
    };
    let model = match embody_model::from_urdf_file(std::path::Path::new(path), &options) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let iterations: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let mut data = embody_model::Data::new(&model);
    let q = model.neutral_configuration();
    for _ in 0..iterations {
        std::hint::black_box(embody_model::crba(&model, &mut data, q.as_slice()));
    }
}

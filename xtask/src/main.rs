//! andon's development tasks: `cargo xtask bench <journal|http|startup|router|tsdb|rules-eval|rules-test|notify|pipeline|all>`. The
//! code-base invariants (layering, file headers) live in `tidy` and run as tests.

mod bench;
mod bench_delivery;
mod bench_pipeline;
mod bench_rules;
mod bench_tsdb;
mod tidy;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["bench", which @ ..] => bench::run(which),
        ["tidy"] => {
            let mut problems = tidy::layering_violations(&tidy::dependencies()?);
            problems.extend(tidy::file_problems(&tidy::workspace_root()));
            anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
            Ok(())
        }
        _ => {
            anyhow::bail!(
                "usage: cargo xtask bench [journal|http|startup|router|tsdb|rules-eval|rules-test|notify|pipeline|all] | cargo xtask tidy"
            )
        }
    }
}

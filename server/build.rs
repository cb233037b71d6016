//! Where the server finds DuckDB's library at run time, written into the binaries (rpath):
//! first beside the executable (a deployed `memberpulse` with `libduckdb.so` next to it),
//! then the folder it was linked from (`DUCKDB_LIB_DIR`, set by `.cargo/config.toml`), so
//! `cargo run`, `cargo test` and `target/*/memberpulse` work with nothing set.
fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        return;
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}

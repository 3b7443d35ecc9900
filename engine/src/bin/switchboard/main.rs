//! The `switchboard` command line.

fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1).unwrap_or_else(|| "help".to_owned());
    match command.as_str() {
        "version" | "--version" | "-V" => {
            println!("switchboard {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "run" | "demo" => anyhow::bail!(
            "`switchboard {command}` is not built yet: the engine driver, the simulators and \
             the WeChat channel are still being written (see README.md, Status)"
        ),
        _ => {
            println!("usage: switchboard <run|demo|version>");
            Ok(())
        }
    }
}

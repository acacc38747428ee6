//! Finds the Asterisk headers, generates the Rust bindings and compiles the C shim.
//!
//! Headers are looked for in this order, and the first hit wins:
//!   1. `ASTERISK_INCLUDE_DIR` (a directory holding `asterisk.h` and `asterisk/`);
//!   2. the system's `/usr/include/asterisk.h` (the `asterisk-dev` package);
//!   3. the project's sandbox root file system (`make asterisk`).
//!
//! Whatever is found is staged in `OUT_DIR` as a directory that holds only
//! `asterisk.h` and `asterisk/`: pointing `-I` at a foreign root's whole
//! `usr/include` would shadow this machine's C library headers.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const SYSTEM_INCLUDE: &str = "/usr/include";

struct Headers {
    /// Where the headers were found, for humans.
    origin: String,
    /// Directory holding `asterisk.h` and `asterisk/`.
    root: PathBuf,
    /// Whether `root` must be passed with `-I` (the system one is searched anyway).
    needs_include_flag: bool,
}

fn main() {
    for var in ["ASTERISK_INCLUDE_DIR", "RES_CLUSTER_SANDBOX", "XDG_CACHE_HOME", "HOME"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    for file in ["include/res_cluster_shim.h", "include/res_cluster_bindings.h", "src/shim.c"] {
        println!("cargo:rerun-if-changed={file}");
    }

    let headers = match find_headers() {
        Ok(h) => h,
        Err(message) => {
            eprintln!("\nerror: {message}\n");
            std::process::exit(1);
        }
    };
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let staged = stage(&headers, &out_dir);
    let buildopt_sum = read_buildopt_sum(&headers.root.join("asterisk/buildopts.h"));
    println!("cargo:rerun-if-changed={}", headers.root.join("asterisk.h").display());
    println!("cargo:rerun-if-changed={}", headers.root.join("asterisk/buildopts.h").display());

    let report = format!(
        "Asterisk headers: {} ({})\nAST_BUILDOPT_SUM: {}\n",
        headers.root.display(),
        headers.origin,
        buildopt_sum
    );
    fs::write(out_dir.join("asterisk-headers.txt"), &report).expect("write header report");
    println!("cargo:rustc-env=RES_CLUSTER_HEADERS={}", headers.root.display());
    println!("cargo:rustc-env=RES_CLUSTER_BUILDOPT_SUM={buildopt_sum}");

    let mut include_flags = vec!["-Iinclude".to_string()];
    if let Some(dir) = &staged {
        include_flags.push(format!("-I{}", dir.display()));
    }

    generate_bindings(&include_flags, &out_dir);
    compile_shim(staged.as_deref());
}

fn find_headers() -> Result<Headers, String> {
    if let Some(dir) = env::var_os("ASTERISK_INCLUDE_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.join("asterisk.h").is_file() && dir.join("asterisk").is_dir() {
            Ok(Headers { origin: "ASTERISK_INCLUDE_DIR".into(), root: dir, needs_include_flag: true })
        } else {
            Err(format!(
                "ASTERISK_INCLUDE_DIR={} holds no asterisk.h and asterisk/; point it at the directory that does, or unset it",
                dir.display()
            ))
        };
    }
    if Path::new(SYSTEM_INCLUDE).join("asterisk.h").is_file() {
        return Ok(Headers {
            origin: "system".into(),
            root: PathBuf::from(SYSTEM_INCLUDE),
            needs_include_flag: false,
        });
    }
    let sandbox = sandbox_root();
    let include = sandbox.join("usr/include");
    if include.join("asterisk.h").is_file() {
        return Ok(Headers { origin: format!("sandbox {}", sandbox.display()), root: include, needs_include_flag: true });
    }
    Err(format!(
        "no Asterisk headers found. Looked in, in order:\n  \
         1. $ASTERISK_INCLUDE_DIR (unset)\n  \
         2. {SYSTEM_INCLUDE}/asterisk.h (install asterisk-dev)\n  \
         3. the sandbox {} (run `make asterisk`)",
        include.display()
    ))
}

/// Same default as scripts/sandbox.sh.
fn sandbox_root() -> PathBuf {
    if let Some(dir) = env::var_os("RES_CLUSTER_SANDBOX").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env::var_os("HOME").unwrap_or_default()).join(".cache"));
    cache.join("res_cluster/sid-root")
}

/// Returns the directory to pass with `-I`, or None for the system headers.
fn stage(headers: &Headers, out_dir: &Path) -> Option<PathBuf> {
    if !headers.needs_include_flag {
        return None;
    }
    let staged = out_dir.join("asterisk-include");
    let _ = fs::remove_dir_all(&staged);
    fs::create_dir_all(&staged).expect("create staged include dir");
    for name in ["asterisk.h", "asterisk"] {
        std::os::unix::fs::symlink(headers.root.join(name), staged.join(name)).expect("symlink header");
    }
    Some(staged)
}

fn read_buildopt_sum(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("#define AST_BUILDOPT_SUM "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| {
            eprintln!("error: {} defines no AST_BUILDOPT_SUM", path.display());
            std::process::exit(1);
        })
}

fn generate_bindings(include_flags: &[String], out_dir: &Path) {
    let functions = [
        "ast_register_application2",
        "ast_unregister_application",
        "pbx_findapp",
        "pbx_exec",
        "pbx_builtin_setvar_helper",
        "ast_func_read",
        "ast_func_write",
        "ast_channel_name",
        "ast_channel_caller",
        "ast_channel_set_caller_event",
        "ast_party_caller_set_init",
        "ast_party_id_presentation",
        "ast_channel_tech",
        "ast_channel_connected",
        "ast_party_connected_line_set_init",
        "ast_channel_set_connected_line",
        "ast_check_hangup_locked",
        "ast_custom_function_find",
        "ast_context_find_or_create",
        "ast_context_destroy_by_name",
        "ast_config_load2",
        "ast_config_destroy",
        "ast_category_browse_filtered",
        "ast_category_first",
        "ast_category_get_name",
        "ast_category_is_template",
        "ast_cli_unregister",
        "ast_channel_hangupcause_set",
        // Asterisk's JSON (Jansson), for the registrations' bodies.
        "ast_json_typeof",
        "ast_json_object_iter",
        "ast_json_object_iter_next",
        "ast_json_object_iter_key",
        "ast_json_object_iter_value",
        "ast_json_array_size",
        "ast_json_array_get",
        "ast_json_string_get",
        "ast_json_integer_get",
        "ast_json_real_get",
        "ast_json_object_create",
        "ast_json_array_create",
        "ast_json_string_create",
        "ast_json_integer_create",
        "ast_json_real_create",
        "ast_json_boolean",
        "ast_json_null",
        "ast_json_object_set",
        "ast_json_array_append",
        "ast_json_unref",
        "res_cluster_.*",
    ];
    let vars = ["ast_config_AST_SYSTEM_NAME", "ast_config_AST_CONFIG_DIR"];
    let types = [
        "ast_cli_entry",
        "ast_cli_args",
        "ast_variable",
        "ast_module_load_result",
        "ast_cli_command",
        "stasis_subscription",
        "stasis_message",
        "res_cluster_cached",
        "res_cluster_contact_callbacks",
        "ast_json_type",
        "ast_channel_tech",
        "ast_datastore",
    ];
    let consts = [
        "__LOG_.*",
        "CLI_INIT",
        "CLI_GENERATE",
        "CONFIG_FLAG_.*",
        "AST_MODULE_LOAD_.*",
    ];

    let mut builder = bindgen::Builder::default()
        .header("include/res_cluster_bindings.h")
        // Only ever handled by pointer (ast_custom_function_find's answer is
        // compared with NULL): its fields, which grew from 20 to 22, are not
        // res_cluster's business.
        .blocklist_type("ast_custom_function")
        .raw_line("/// Asterisk's registered dialplan function; res_cluster holds pointers to it only.")
        .raw_line("#[repr(C)] pub struct ast_custom_function { _private: [u8; 0] }")
        .clang_arg("-fblocks")
        .clang_args(include_flags)
        .allowlist_recursively(true)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for f in functions {
        builder = builder.allowlist_function(f);
    }
    for v in vars.iter().chain(consts.iter()) {
        builder = builder.allowlist_var(v);
    }
    for t in types {
        builder = builder.allowlist_type(t);
    }
    let bindings = builder.generate().unwrap_or_else(|e| {
        eprintln!("error: bindgen could not parse the Asterisk headers: {e}\n(is libclang installed? Debian: libclang-dev)");
        std::process::exit(1);
    });
    bindings.write_to_file(out_dir.join("bindings.rs")).expect("write bindings");
}

fn compile_shim(staged: Option<&Path>) {
    let mut build = cc::Build::new();
    build.file("src/shim.c").include("include").warnings(true).flag_if_supported("-Wno-unused-parameter");
    // A function some Asterisk version does not declare is an error, not a
    // guess at its signature.
    build.flag("-Werror=implicit-function-declaration");
    if let Some(dir) = staged {
        // -isystem: warnings are for our code, not for Asterisk's headers.
        build.flag(format!("-isystem{}", dir.display()));
    }
    // The shim's object holds AST_MODULE_INFO, whose constructor nothing in
    // Rust references; without whole-archive the linker drops it and the
    // loader reports that the module never registered.
    build.link_lib_modifier("+whole-archive");
    build.compile("res_cluster_shim");
}

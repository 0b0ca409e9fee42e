//! Property tests: no input, however broken, makes the manifest reader panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use andon_spec::parse_manifests;
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "apiVersion: andon.dev/v1\n",
    "kind: Service\n",
    "kind: Environment\n",
    "metadata:\n",
    "  name: api\n",
    "spec:\n",
    "  command: [x]\n",
    "  replicas: -1\n",
    "---\n",
    "  ports:\n",
    "  - {name: http, port: 0}\n",
    "  readinessProbe: {httpGet: {port: http}}\n",
    "&a [*a]\n",
    "  resources: {limits: {cpu: 1e9999}}\n",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "\t",
    "'",
    "\"",
    "!!str ",
    "*x ",
    "&x ",
    "? ",
    "|\n",
    ">\n",
    "\u{feff}",
    "\u{0}",
    "#",
    "%YAML 1.2\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_manifests("fuzz.yaml", &bytes, None);
    }

    #[test]
    fn yaml_shaped_input_never_panics(parts in proptest::collection::vec(0..FRAGMENTS.len(), 0..40)) {
        let text: String = parts.iter().map(|i| FRAGMENTS[*i]).collect();
        let _ = parse_manifests("fuzz.yaml", text.as_bytes(), None);
    }
}

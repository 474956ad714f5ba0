//! The path-template parser on any input: never panics; what it accepts
//! prints back to itself and parses to the same template; joining and
//! matching accepted templates never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse_path::Template;

fuzz_target!(|input: (&str, &str, &str)| {
    let (source, other, path) = input;
    let Ok(template) = Template::parse(source) else {
        return;
    };
    assert_eq!(template.to_string(), source);
    assert_eq!(Template::parse(&template.to_string()).unwrap(), template);
    let mut values = Vec::new();
    if template.match_path(path, &mut values) {
        assert_eq!(values.len(), template.param_names().count());
    }
    let _ = template.match_prefix(path, &mut Vec::new());
    if let Ok(other) = Template::parse(other) {
        let _ = template.conflict_with(&other);
        assert_eq!(
            template.conflict_with(&other),
            other.conflict_with(&template)
        );
        let _ = template.join(&other);
    }
});

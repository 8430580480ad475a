//! `modules.dep`: any bytes through `formats::modules_dep`.
//!
//! Checks: every path, dependency and name lies inside the input; a name lies inside its
//! path and holds no `/`; paths and dependencies are never empty and dependencies hold no
//! blank; `find` answers with the first entry of that name, and finds every entry's name.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::modules_dep;

fuzz_target!(|data: &[u8]| {
    for entry in modules_dep::entries(data) {
        assert_inside(data, entry.path);
        assert!(!entry.path.is_empty());
        let name = entry.name();
        assert_inside(entry.path, name);
        assert!(!name.contains(&b'/'));
        for dep in entry.deps() {
            assert_inside(data, dep);
            assert!(!dep.is_empty() && !dep.contains(&b' ') && !dep.contains(&b'\t'));
            let _ = modules_dep::compression(dep);
        }
        let found = modules_dep::find(data, name).expect("an entry's own name is found");
        assert!(modules_dep::same_name(found.name(), name));
        assert!(
            found.path.as_ptr() <= entry.path.as_ptr(),
            "find gives the first entry"
        );
    }
});

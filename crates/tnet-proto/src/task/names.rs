//! Task names as folder names and key-expression chunks (SPEC 3.3).

/// The folder and key-expression chunk for a task named `name`.
///
/// Every character outside `[A-Za-z0-9._-]` becomes `_` (`Game Server` →
/// `Game_Server`), so the result is a single path component with no `/`,
/// and none of Zenoh's special characters (`*`, `$`, `?`, `#`). A leading `.`
/// also becomes `_`, so no task folder is hidden, none collides with the
/// host's own `.tnet` records folder, and `.` and `..` cannot arise.
/// Different names can map to the same safe name; the host reports that as a
/// conflict.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| match c {
            '.' if i == 0 => '_',
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example() {
        assert_eq!(safe_name("Game Server"), "Game_Server");
        assert_eq!(safe_name("my_binary"), "my_binary");
    }

    #[test]
    fn keeps_allowed_characters() {
        assert_eq!(safe_name("a-b_c.d9"), "a-b_c.d9");
    }

    #[test]
    fn replaces_everything_else_one_for_one() {
        assert_eq!(safe_name("a/b"), "a_b");
        assert_eq!(safe_name("x*y$z?#"), "x_y_z__");
        assert_eq!(safe_name("café"), "caf_");
        assert_eq!(safe_name("tab\there"), "tab_here");
    }

    #[test]
    fn no_hidden_or_special_folders() {
        assert_eq!(safe_name(".tnet"), "_tnet");
        assert_eq!(safe_name("."), "_");
        assert_eq!(safe_name(".."), "_.");
        assert_eq!(safe_name("a.."), "a..");
        assert!(!safe_name("../../etc").contains('/'));
    }

    #[test]
    fn empty_stays_empty() {
        // The parser refuses empty names; safe_name itself just maps characters.
        assert_eq!(safe_name(""), "");
    }
}

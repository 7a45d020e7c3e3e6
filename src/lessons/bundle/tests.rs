use super::name_problem;

#[test]
fn names_that_stay_inside_pass_and_the_others_say_why() {
    for good in ["lesson.md", "runs/ae-vae/run.json", "runs/a.b/timeline.bin"] {
        assert_eq!(name_problem(good), None, "{good}");
    }
    let cases = [
        ("../evil", "'..'"),
        ("runs/../../evil", "'..'"),
        ("/etc/passwd", "absolute"),
        ("\\windows\\evil", "absolute"),
        ("C:/evil", "absolute"),
        ("runs\\x", "'\\'"),
        ("runs//x", "empty"),
        ("./x", "'.'"),
        ("runs/", "empty"),
        ("", "empty name"),
        ("a\nb", "control"),
    ];
    for (name, says) in cases {
        let why = name_problem(name).unwrap_or_else(|| panic!("{name:?} passed"));
        assert!(why.contains(says), "{name:?}: {why}");
    }
}

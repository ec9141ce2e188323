//! Every validation error names the file, the step and the field, with the line where TOML gives one.

use stepwise_engine::workflow::{self, WorkflowError, WorkflowIssue};
use stepwise_engine::{StepDraft, WorkflowDraft};

fn errors(toml: &str) -> WorkflowError {
    workflow::parse(toml, Some("my.toml")).unwrap_err()
}

fn only(toml: &str) -> WorkflowIssue {
    let e = errors(toml);
    assert_eq!(e.issues.len(), 1, "{e}");
    e.issues.into_iter().next().unwrap()
}

#[test]
fn a_good_file_parses_with_every_field() {
    let w = workflow::parse(
        "name = \"R\"\ndescription = \"d\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\nmodel = \"openai:gpt-5-mini\"\n\
         [[steps]]\nname = \"B\"\ninstructions = \"y\"\n",
        None,
    )
    .unwrap();
    assert_eq!(w.name, "R");
    assert_eq!(w.description, "d");
    assert_eq!(w.steps.len(), 2);
    assert_eq!(w.steps[0].model().unwrap().to_string(), "openai:gpt-5-mini");
    assert!(w.steps[1].model().is_none());
}

#[test]
fn missing_name() {
    let i = only("[[steps]]\nname = \"A\"\ninstructions = \"x\"\n");
    assert_eq!(
        (i.field.as_deref(), i.step.as_deref()),
        (Some("name"), None)
    );
    assert!(i.message.contains("needs a name"));
}

#[test]
fn blank_name_points_at_its_line() {
    let i = only("\nname = \"  \"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\n");
    assert_eq!((i.field.as_deref(), i.line), (Some("name"), Some(2)));
}

#[test]
fn no_steps() {
    let i = only("name = \"R\"\n");
    assert_eq!(i.field.as_deref(), Some("steps"));
    assert!(i.message.contains("at least one step"));
    let i = only("name = \"R\"\nsteps = []\n");
    assert_eq!((i.field.as_deref(), i.line), (Some("steps"), Some(2)));
}

#[test]
fn step_without_a_name() {
    // Reported at the step's `[[steps]]` header: that is where the name belongs.
    let i = only("name = \"R\"\n[[steps]]\ninstructions = \"x\"\n");
    assert_eq!(
        (i.step.as_deref(), i.field.as_deref(), i.line),
        (Some("steps[0]"), Some("name"), Some(2))
    );
}

#[test]
fn duplicate_step_names_ignore_case() {
    let i = only(
        "name = \"R\"\n[[steps]]\nname = \"Write\"\ninstructions = \"x\"\n[[steps]]\nname = \"write\"\ninstructions = \"y\"\n",
    );
    assert_eq!(
        (i.step.as_deref(), i.step_name.as_deref()),
        (Some("steps[1]"), Some("write"))
    );
    assert_eq!((i.field.as_deref(), i.line), (Some("name"), Some(6)));
    assert!(i.message.contains("step 1 already has this name"));
}

#[test]
fn missing_and_empty_instructions() {
    let i = only("name = \"R\"\n[[steps]]\nname = \"A\"\n");
    assert_eq!(
        (i.step.as_deref(), i.field.as_deref()),
        (Some("steps[0]"), Some("instructions"))
    );
    assert!(i.message.contains("missing"));
    let i = only("name = \"R\"\n[[steps]]\nname = \"A\"\ninstructions = \"\"\"\n  \n\"\"\"\n");
    assert_eq!((i.line, i.step_name.as_deref()), (Some(4), Some("A")));
    assert!(i.message.contains("empty"));
}

#[test]
fn malformed_model_references() {
    for (model, says) in [
        ("gpt-4", "unknown provider"),
        ("openai:", "needs a model name"),
        ("demo:fast", "takes no name"),
        ("", "empty"),
    ] {
        let i = only(&format!(
            "name = \"R\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\nmodel = \"{model}\"\n"
        ));
        assert_eq!(
            (i.step.as_deref(), i.field.as_deref(), i.line),
            (Some("steps[0]"), Some("model"), Some(5)),
            "{model}"
        );
        assert!(i.message.contains(says), "{model}: {}", i.message);
    }
}

#[test]
fn unknown_fields_are_reported_not_dropped() {
    let i = only("name = \"R\"\n[[steps]]\nname = \"A\"\ninstruction = \"x\"\n");
    assert_eq!(
        (i.step.as_deref(), i.field.as_deref(), i.line),
        (Some("steps[0]"), Some("instruction"), Some(4))
    );
    let i = only("name = \"R\"\ncolour = \"red\"\n[[steps]]\nname = \"A\"\ninstructions = \"x\"\n");
    assert_eq!(
        (i.step.as_deref(), i.field.as_deref(), i.line),
        (None, Some("colour"), Some(2))
    );
}

#[test]
fn toml_syntax_errors_give_the_line() {
    let i = only("name = \"R\"\n[[steps]]\nname = \"A\ninstructions = \"x\"\n");
    assert_eq!((i.line, i.step.as_deref()), (Some(3), Some("steps[0]")));
    let i = only("name = 5\n");
    assert_eq!((i.line, i.field.as_deref()), (Some(1), Some("name")));
    assert!(i.message.contains("string"), "{}", i.message);
}

#[test]
fn every_issue_is_reported_at_once_and_names_the_file() {
    let e = errors("[[steps]]\nname = \"A\"\n[[steps]]\nname = \"a\"\nmodel = \"x\"\n");
    let fields: Vec<_> = e.issues.iter().map(|i| i.field.clone().unwrap()).collect();
    assert_eq!(
        fields,
        ["name", "instructions", "name", "instructions", "model"]
    );
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), 5);
    assert!(shown.lines().all(|l| l.starts_with("my.toml: ")), "{shown}");
    assert!(
        shown.contains(
            "my.toml: line 4, step \"a\" (steps[1]), field `name`: step 1 already has this name"
        ),
        "{shown}"
    );
}

#[test]
fn an_unreadable_file_is_a_clear_error() {
    let e = workflow::parse_file(std::path::Path::new("/nonexistent/flow.toml")).unwrap_err();
    assert_eq!(e.file.as_deref(), Some("/nonexistent/flow.toml"));
    assert!(e.issues[0].message.contains("cannot read"));
}

#[test]
fn workflows_built_in_code_follow_the_same_rules() {
    let mut w = WorkflowDraft {
        name: "Mine".into(),
        description: String::new(),
        steps: vec![StepDraft {
            name: "A".into(),
            instructions: "x".into(),
            ..StepDraft::default()
        }],
    };
    assert!(w.validate().is_ok());
    w.steps.push(w.steps[0].clone());
    let e = w.validate().unwrap_err();
    assert_eq!(e.issues[0].step.as_deref(), Some("steps[1]"));
    assert_eq!(e.issues[0].line, None, "no file, so no line");
}
